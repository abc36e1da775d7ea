// mio's Waker contract, held against the finished library (//:loop) on every
// (backend, kind) pair. The scenarios are those of mio's own tests/waker.rs,
// played the way a mio program plays them: wake, then poll, and nothing else.
// No test here drains a Waker or calls anything but Wake() and Poll::Wait: a
// program ported from mio, or written from the seed's example, does not know
// about draining, and must never sleep through a wake.
//
// Then the early drop (lesson 09) on the same pairs: a wake whose Waker is
// destroyed before the Poll looks is still reported, and a handle that outlives
// its Poll says so and touches nothing.
#include <chrono>
#include <optional>
#include <thread>

#include "gtest/gtest.h"
#include "loop/loop.h"
#include "tests/support/deadline.h"
#include "tests/support/events.h"
#include "tests/support/waker_cases.h"
#include "tests/support/wakes.h"

namespace loop {
namespace {

using std::chrono::milliseconds;
using testing::DescribeEvents;
using testing::HasToken;
using testing::kWakeToken;
using testing::SeesToken;
using testing::WakerCase;

// A wake that should be there already; a lost one fails after this long.
constexpr milliseconds kWakeDeadline{2000};
// How long "no event" is looked for. An extra event would be allowed by the
// contract (spurious events are), so this is only a check that the fast path
// does not leave the source signalled for ever.
constexpr milliseconds kQuiet{50};

constexpr char kWhy[] =
    " The finished Waker coalesces wakes with a pending flag that must be "
    "cleared when the Poll reports the token: Poll::Wait drains the source "
    "itself (Registry::OnReport, loop/waker.cc), so a program that never "
    "drains still sees every wake.";

class MioWaker : public ::testing::TestWithParam<WakerCase> {};
class FinishedEarlyDrop : public ::testing::TestWithParam<WakerCase> {};

INSTANTIATE_TEST_SUITE_P(Kinds, MioWaker,
                         ::testing::ValuesIn(testing::AllWakerCases()),
                         testing::WakerCaseTestName);
INSTANTIATE_TEST_SUITE_P(Kinds, FinishedEarlyDrop,
                         ::testing::ValuesIn(testing::AllWakerCases()),
                         testing::WakerCaseTestName);

// Polls once with `timeout`; the events it returned.
Events PollOnce(Poll& poll, milliseconds timeout) {
  Events events(8);
  poll.Wait(events, timeout);
  return events;
}

// mio: waker, same thread. One wake, one readable event with the token.
TEST_P(MioWaker, WakeOnTheSameThreadIsReported) {
  Poll poll(GetParam().backend);
  Waker waker(poll.registry(), kWakeToken, GetParam().kind);
  ASSERT_EQ(waker.Wake(), WakeResult::kWoken);
  const Events events = PollOnce(poll, kWakeDeadline);
  ASSERT_TRUE(HasToken(events, kWakeToken))
      << "a Wake() on the polling thread was not reported; got "
      << DescribeEvents(events);
  for (const Event& e : events) {
    if (e.token() == kWakeToken) EXPECT_TRUE(e.is_readable());
  }
}

// mio: waker_multiple_wakeups_same_thread. Three wakes, then one poll: at
// least one event, and after it the Poll is quiet.
TEST_P(MioWaker, WakesBeforeAPollAreOneEventAndThenQuiet) {
  Poll poll(GetParam().backend);
  Waker waker(poll.registry(), kWakeToken, GetParam().kind);
  for (int i = 0; i < 3; ++i) waker.Wake();
  ASSERT_TRUE(SeesToken(poll, kWakeToken, kWakeDeadline))
      << "three wakes, and the Poll reported none." << kWhy;
  const Events after = PollOnce(poll, kQuiet);
  EXPECT_FALSE(HasToken(after, kWakeToken))
      << "the wakes were reported, and then reported again with no new wake: "
         "the source was never emptied."
      << kWhy;
}

// mio: waker_wakeup_different_thread.
TEST_P(MioWaker, WakeFromAnotherThreadIsReported) {
  Poll poll(GetParam().backend);
  Waker waker(poll.registry(), kWakeToken, GetParam().kind);
  std::thread worker([handle = waker] { handle.Wake(); });
  worker.join();
  EXPECT_TRUE(SeesToken(poll, kWakeToken, kWakeDeadline))
      << "a wake from another thread was never reported." << kWhy;
}

// mio: waker_multiple_wakeups_different_thread. Two threads wake one after the
// other, each after the Poll has reported the previous wake, and nobody
// drains: both wakes must be reported. This is the scenario that a Waker whose
// pending flag only a Drain() clears fails on every kind and backend.
TEST_P(MioWaker, TwoThreadsWakeInTurnAndBothAreReported) {
  Poll poll(GetParam().backend);
  Waker waker(poll.registry(), kWakeToken, GetParam().kind);
  std::thread first([handle = waker] { handle.Wake(); });
  first.join();
  ASSERT_TRUE(SeesToken(poll, kWakeToken, kWakeDeadline))
      << "the first thread's wake was never reported." << kWhy;
  std::thread second([handle = waker] { handle.Wake(); });
  second.join();
  EXPECT_TRUE(SeesToken(poll, kWakeToken, kWakeDeadline))
      << "the second thread's wake was never reported: the first one left "
         "the pending flag set, so the second Wake() made no system call."
      << kWhy;
}

// Many rounds of the same, on one thread: wake, poll, wake, poll.
TEST_P(MioWaker, EveryWakeAfterAReportIsReportedAgain) {
  Poll poll(GetParam().backend);
  Waker waker(poll.registry(), kWakeToken, GetParam().kind);
  for (int round = 1; round <= 100; ++round) {
    waker.Wake();
    ASSERT_TRUE(SeesToken(poll, kWakeToken, kWakeDeadline))
        << "round " << round << ": the wake was never reported." << kWhy;
  }
}

// mio: no extra event. A Poll with a Waker nobody woke reports nothing.
TEST_P(MioWaker, NoWakeNoEvent) {
  Poll poll(GetParam().backend);
  Waker waker(poll.registry(), kWakeToken, GetParam().kind);
  const Events events = PollOnce(poll, kQuiet);
  EXPECT_FALSE(HasToken(events, kWakeToken))
      << "nobody called Wake(), yet the Poll reported the Waker's token.";
}

// The seed's bug: wake, then drop the only Waker, before the Poll looks.
TEST_P(FinishedEarlyDrop, WakeThenDropTheOnlyWakerBeforePoll) {
  Poll poll(GetParam().backend);
  std::optional<Waker> waker;
  waker.emplace(poll.registry(), kWakeToken, GetParam().kind);
  std::thread worker([&] {
    waker->Wake();
    waker.reset();
  });
  worker.join();
  EXPECT_TRUE(SeesToken(poll, kWakeToken, kWakeDeadline))
      << "wake lost: the only Waker was destroyed after its Wake() and before "
         "the Poll looked. The Poll must share the wake source (lesson 09).";
}

// A handle that outlives its Poll: Wake() says kPollGone and signals nothing.
TEST_P(FinishedEarlyDrop, HandleThatOutlivesItsPollSaysPollGone) {
  std::optional<Waker> handle;
  {
    Poll poll(GetParam().backend);
    Waker waker(poll.registry(), kWakeToken, GetParam().kind);
    handle.emplace(waker);
  }
  EXPECT_EQ(handle->Wake(), WakeResult::kPollGone);
}

}  // namespace
}  // namespace loop
