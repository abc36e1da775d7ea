// Waiting for a token on the library's Poll (//loop:poll), for the
// waker tests from lesson 06 on and the suites in tests/.
//
// Every wait has a deadline. Thread-safe as Poll::Wait is: one thread waits.
#ifndef TESTS_SUPPORT_WAKES_H_
#define TESTS_SUPPORT_WAKES_H_

#include <algorithm>
#include <chrono>

#include "loop/event.h"
#include "loop/poll.h"
#include "tests/support/deadline.h"
#include "tests/support/events.h"

namespace loop {
namespace testing {

// The token a test registers its waker under.
inline constexpr Token kWakeToken{42};

// Waits in Poll::Wait, for at most `deadline` in total, until an event for
// `token` arrives; true if it did. Other events (spurious ones are allowed)
// are skipped.
inline bool SeesToken(Poll& poll, Token token,
                      std::chrono::milliseconds deadline = kDefaultDeadline) {
  Events events(8);
  const auto end = Clock::now() + deadline;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - Clock::now());
    poll.Wait(events, std::max(left, std::chrono::milliseconds(0)));
    if (HasToken(events, token)) return true;
    if (Clock::now() >= end) return false;
  }
}

}  // namespace testing
}  // namespace loop

#endif  // TESTS_SUPPORT_WAKES_H_
