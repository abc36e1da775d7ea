// Lesson 06: the waker suite on EventfdWaker, plus what only an eventfd has: a
// counter that can overflow, and draining for level-triggered users.
#include "lessons/06_eventfd_waker/eventfd_waker.h"

#include "gtest/gtest.h"

#if defined(__linux__)

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>

#include "loop/poll.h"
#include "loop/registry.h"
#include "tests/support/waker_suite.h"

namespace loop {
namespace testing {
namespace {
constexpr char kReadme[] = " See lessons/06_eventfd_waker/README.md.";
}  // namespace
}  // namespace testing
}  // namespace loop

// The suite's cases live in the global namespace so that gtest names them
// shortly: "where TypeParam = EventfdOnEpoll".

// An edge-triggered loop never reads the eventfd: each write re-queues the
// waiter.
struct EventfdOnEpoll {
  using Waker = loop::EventfdWaker;
  static constexpr loop::Backend kBackend = loop::Backend::kEpoll;
  static constexpr const char* kName = "OnEpoll";
  static constexpr const char* kReadme = loop::testing::kReadme;
  static void AfterWakeEvent(Waker&) {}
};

// The eventfd is an ordinary readable fd, so it works on any Poll: here the
// kqueue emulation's EVFILT_READ with EV_CLEAR.
struct EventfdOnKqueue {
  using Waker = loop::EventfdWaker;
  static constexpr loop::Backend kBackend = loop::Backend::kKqueue;
  static constexpr const char* kName = "OnKqueue";
  static constexpr const char* kReadme = loop::testing::kReadme;
  static void AfterWakeEvent(Waker&) {}
};

namespace loop {
namespace testing {
namespace {

using EventfdCases = ::testing::Types<EventfdOnEpoll, EventfdOnKqueue>;
INSTANTIATE_TYPED_TEST_SUITE_P(EventfdWaker, WakerSuite, EventfdCases,
                               WakerCaseName);

// Why a test below cannot go on: the eventfd would make it block.
std::string BlockingMessage(int fd) {
  return "the eventfd (fd " + std::to_string(fd) +
         ") is blocking: create it with EFD_NONBLOCK. On a blocking eventfd, "
         "read() waits while the counter is 0 and write() waits while the "
         "counter is full, so Drain() or Wake() could hang the thread that "
         "calls it." +
         std::string(kReadme);
}

// True when poll(2), which is level-triggered, says `fd` is readable right now.
bool ReadableNow(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

TEST(EventfdWakerTest, WakeAtCounterMaximumStillWakes) {
  Poll poll;
  Events events(8);
  EventfdWaker waker(poll.registry(), kWakeToken);
  const int fd = waker.fd_for_testing();
  ASSERT_TRUE(IsNonBlocking(fd)) << BlockingMessage(fd);

  // Fill the counter to the largest value an eventfd holds, as ~2^64 wakes
  // would.
  const std::uint64_t max = 0xfffffffffffffffe;
  const auto fill = [&] {
    return write(fd, &max, sizeof max) == static_cast<ssize_t>(sizeof max);
  };
  ASSERT_TRUE(fill()) << "could not set the eventfd's counter: "
                      << std::strerror(errno);
  // At the maximum, Wake() relies on Drain(): if Drain() left the counter full,
  // Wake() would retry forever. So check Drain() there first.
  waker.Drain();
  ASSERT_FALSE(ReadableNow(fd))
      << "Drain() left a full counter (0xfffffffffffffffe) above 0, so Wake() "
         "cannot reset it there. Drain() must read the counter (one 8-byte "
         "read sets it to 0)."
      << kReadme;
  ASSERT_TRUE(fill()) << "could not set the eventfd's counter again: "
                      << std::strerror(errno);
  // The loop sees that and consumes the event without reading the counter, as
  // an edge-triggered loop does.
  poll.Wait(events, kWakeDeadline);
  ASSERT_TRUE(HasToken(events, kWakeToken, Event::kReadable))
      << "a direct write to the eventfd produced no event: is the eventfd "
         "registered for reading under the waker's token?"
      << kReadme;

  // Now any write of 1 fails with EAGAIN. Wake() must still wake, and return:
  // a Wake() that retries the write without draining would spin forever, so
  // it runs under a deadline, and the rescue drains the counter for it.
  bool in_time = false;
  try {
    in_time = FinishesWithin(
        kWakeDeadline, [&] { waker.Wake(); },
        [&] {
          std::uint64_t value;
          EXPECT_EQ(read(fd, &value, sizeof value),
                    static_cast<ssize_t>(sizeof value))
              << "test rescue: could not read the eventfd's counter";
        });
  } catch (const std::exception& e) {
    FAIL()
        << "Wake() threw \"" << e.what()
        << "\" with the counter at 0xfffffffffffffffe. There a write(1) fails "
           "with EAGAIN because the counter would pass its maximum; Wake() "
           "must read the counter back to 0 (Drain) and write again."
        << kReadme;
  }
  ASSERT_TRUE(in_time)
      << "Wake() did not return within " << kWakeDeadline.count()
      << " ms with the counter at 0xfffffffffffffffe (the test then read the "
         "counter so that it could finish): retrying write() on EAGAIN "
         "without Drain() loops forever, because the counter stays full. "
         "Drain() first, then write again."
      << kReadme;
  poll.Wait(events, kWakeDeadline);
  EXPECT_TRUE(HasToken(events, kWakeToken, Event::kReadable))
      << "wake lost at the counter's maximum: Wake() returned without an "
         "error, but poll() reported no new event for the waker. At "
         "0xfffffffffffffffe a write of 1 fails with EAGAIN and changes "
         "nothing, so returning there loses the wake. Wake() must Drain() (the "
         "counter becomes 0) and write again: that write re-queues the loop."
      << kReadme;
}

TEST(EventfdWakerTest, DrainClearsReadinessForLevelTriggeredUsers) {
  Poll poll;
  EventfdWaker waker(poll.registry(), kWakeToken);
  const int fd = waker.fd_for_testing();
  ASSERT_TRUE(IsNonBlocking(fd)) << BlockingMessage(fd);
  waker.Wake();
  waker.Wake();
  ASSERT_TRUE(ReadableNow(fd)) << "after two Wake() calls the eventfd is not "
                                  "readable: Wake() must write 1 to it."
                               << kReadme;
  waker.Drain();
  EXPECT_FALSE(ReadableNow(fd))
      << "after Drain() the eventfd is still readable. A level-triggered "
         "poller (poll(2), epoll without EPOLLET) reports a readable fd on "
         "every call, so a loop that watches the waker that way would spin. "
         "Drain() must read the counter: one 8-byte read returns it and resets "
         "it to 0."
      << kReadme;
}

TEST(EventfdWakerTest, DrainWithNothingPendingReturns) {
  Poll poll;
  EventfdWaker waker(poll.registry(), kWakeToken);
  const int fd = waker.fd_for_testing();
  // A blocking eventfd would make Drain() below hang instead of fail.
  ASSERT_TRUE(IsNonBlocking(fd)) << BlockingMessage(fd);
  try {
    waker.Drain();  // Nothing was ever written.
    waker.Wake();
    waker.Drain();
    waker.Drain();  // Already drained.
  } catch (const std::exception& e) {
    FAIL() << "Drain() threw \"" << e.what()
           << "\". With the counter at 0, read() on a non-blocking eventfd "
              "fails with EAGAIN: that only means \"nothing to drain\", so "
              "Drain() must return quietly."
           << kReadme;
  }
  EXPECT_FALSE(ReadableNow(fd))
      << "after Wake() and Drain() the eventfd is still readable: Drain() must "
         "read the counter."
      << kReadme;
}

}  // namespace
}  // namespace testing
}  // namespace loop

#else  // !defined(__linux__)

TEST(EventfdWakerTest, LinuxOnly) {
  GTEST_SKIP()
      << "eventfd is a Linux system call, so EventfdWaker is built on Linux "
         "only. On this system lesson 07's KqueueWaker and PipeWaker do its "
         "job; read lessons/06_eventfd_waker/README.md for the ideas.";
}

#endif  // defined(__linux__)
