// Tests of the test support itself: a wait that would last forever becomes a
// failure with a message, within its deadline.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "loop/sys_error.h"
#include "tests/support/deadline.h"
#include "tests/support/errors.h"
#include "tests/support/events.h"
#include "tests/support/fds.h"
#include "tests/support/sanitized.h"
#include "tests/support/threads.h"

namespace loop {
namespace testing {
namespace {

TEST(WaitUntil, ReturnsFalseAtTheDeadlineWhenTheConditionNeverHolds) {
  auto start = Clock::now();
  EXPECT_FALSE(WaitUntil([] { return false; }, milliseconds(50)));
  EXPECT_GE(Clock::now() - start, milliseconds(50));
}

TEST(WaitUntil, ReturnsTrueOnceAnotherThreadSetsTheCondition) {
  std::atomic<bool> flag{false};
  std::thread t([&] { flag = true; });
  EXPECT_TRUE(WaitUntil([&] { return flag.load(); }));
  t.join();
}

TEST(Latch, WaitTimesOutWhenNobodyCountsDown) {
  Latch latch(1);
  EXPECT_FALSE(latch.Wait(milliseconds(20)));
}

TEST(Latch, ReleasesAllWaiters) {
  Latch latch(2);
  std::thread t([&] { EXPECT_TRUE(latch.ArriveAndWait()); });
  EXPECT_TRUE(latch.ArriveAndWait());
  t.join();
}

// The shape of every "poll() must return" test: a read that would block forever
// is rescued at the deadline and reported as false, and the test binary carries
// on.
TEST(FinishesWithin, RescuesAForeverBlockedCallAndReportsIt) {
  // Not a structured binding: C++17 lambdas cannot capture those.
  const auto fds = RawPipe();
  const int r = fds.first;
  const int w = fds.second;
  char byte = 0;
  bool rescued = false;
  bool in_time = FinishesWithin(
      milliseconds(50), [&] { ASSERT_EQ(read(r, &byte, 1), 1); },
      [&] {
        rescued = true;
        ASSERT_EQ(write(w, "x", 1), 1);
      });
  EXPECT_FALSE(in_time);
  EXPECT_TRUE(rescued);
  EXPECT_EQ(CloseRaw(r), "");
  EXPECT_EQ(CloseRaw(w), "");
}

TEST(FinishesWithin, DoesNotRescueACallThatFinishes) {
  bool rescued = false;
  EXPECT_TRUE(FinishesWithin(
      kDefaultDeadline, [] {}, [&] { rescued = true; }));
  EXPECT_FALSE(rescued);
}

// The last resort: a test that blocks forever is ended with a message naming
// it.
TEST(WatchdogDeathTest, EndsABlockedProcessWithItsMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto block_forever = [] {
    Watchdog dog(milliseconds(50), "DEADLINE: blocked test was stopped");
    auto fds = RawPipe();
    char byte;
    (void)read(fds.first, &byte, 1);  // Nobody writes: this blocks forever.
  };
  EXPECT_EXIT(block_forever(), ::testing::ExitedWithCode(1),
              "DEADLINE: blocked test was stopped");
}

// A crash names the test and the signal, and says what to try, instead of a log
// that stops after "[ RUN ]". (Under ASan and TSan their own report does it.)
#ifndef LOOP_TEST_SANITIZED
TEST(CrashDeathTest, NamesTheSignalAndWhatToTry) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // gtest forwards no test events inside a death test's child, so the name
  // printed there is the placeholder; in a real crash it is the test's name.
  EXPECT_DEATH(raise(SIGSEGV),
               "CRASH: .* died of SIGSEGV .*bazel test --config=asan "
               "//tests/support:support_test");
}
#endif

TEST(SysErrorFrom, ReturnsTheErrnoAndMessageOfTheSysErrorThrown) {
  auto error = SysErrorFrom([] { throw SysError("close(fd 42)", EBADF); },
                            "close must throw");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->err, EBADF);
  EXPECT_EQ(error->what, "close(fd 42) failed: EBADF (Bad file descriptor)");
}

TEST(SysErrorFrom, FailsTheTestAtTheCallerWithItsMessageWhenNothingIsThrown) {
  ::testing::TestPartResultArray failures;
  bool returned_something = true;
  int line = 0;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::
            INTERCEPT_ONLY_CURRENT_THREAD,
        &failures);
    line = __LINE__ + 1;
    returned_something = SysErrorFrom([] {}, "this call must fail").has_value();
  }
  EXPECT_FALSE(returned_something);
  ASSERT_EQ(failures.size(), 1);
  const ::testing::TestPartResult& failure = failures.GetTestPartResult(0);
  EXPECT_TRUE(failure.nonfatally_failed());
  EXPECT_STREQ(failure.message(), "Failed\nthis call must fail");
  EXPECT_NE(std::string(failure.file_name()).find("support_test.cc"),
            std::string::npos)
      << "reported at " << failure.file_name() << ", not at the caller";
  EXPECT_EQ(failure.line_number(), line);
}

TEST(SysErrorFrom, LetsOtherExceptionsThrough) {
  EXPECT_THROW(
      SysErrorFrom([] { throw std::logic_error("TODO(lesson 01)"); }, "x"),
      std::logic_error);
}

TEST(Fds, CountsAndFlags) {
  int before = CountOpenFds();
  auto [r, w] = RawPipe();
  EXPECT_EQ(CountOpenFds(), before + 2);
  EXPECT_TRUE(IsOpen(r));
  EXPECT_TRUE(IsCloexec(w));
  EXPECT_EQ(CloseRaw(r), "");
  EXPECT_EQ(CloseRaw(w), "");
  EXPECT_FALSE(IsOpen(r));
  EXPECT_EQ(CountOpenFds(), before);
  EXPECT_NE(CloseRaw(r).find("EBADF"), std::string::npos);
}

#ifdef __linux__
TEST(IsBlockedInKernel, TrueForAThreadAsleepInReadFalseWhileItRuns) {
  EXPECT_NE(CurrentThreadId(), 0);
  EXPECT_FALSE(IsBlockedInKernel(CurrentThreadId())) << "this thread runs";
  EXPECT_FALSE(IsBlockedInKernel(0)) << "0: no thread id published yet";
  const auto fds = RawPipe();
  std::atomic<long> tid{0};
  std::thread reader([&] {
    tid = CurrentThreadId();
    char byte;
    EXPECT_EQ(read(fds.first, &byte, 1), 1);
  });
  ASSERT_TRUE(WaitUntil([&] { return tid.load() != 0; }));
  EXPECT_TRUE(WaitUntilBlockedInKernel(tid, kDefaultDeadline))
      << "a thread in read() on an empty pipe is blocked in the kernel";
  ASSERT_EQ(write(fds.second, "x", 1), 1);
  reader.join();
  EXPECT_EQ(CloseRaw(fds.first), "");
  EXPECT_EQ(CloseRaw(fds.second), "");
}

TEST(IsBlockedInKernel, FalseForAThreadWaitingOnACondition) {
  if (!std::ifstream("/proc/self/syscall")) {
    GTEST_SKIP() << "/proc/self/syscall is not readable here, so a futex "
                    "cannot be told from another blocking call";
  }
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  std::atomic<long> tid{0};
  std::thread waiter([&] {
    tid = CurrentThreadId();
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return go; });
  });
  ASSERT_TRUE(WaitUntil([&] { return tid.load() != 0; }));
  EXPECT_FALSE(WaitUntilBlockedInKernel(tid, milliseconds(100)))
      << "a condition variable wait (futex) is not the kernel call a test "
         "waits for";
  {
    std::lock_guard<std::mutex> lock(mu);
    go = true;
  }
  cv.notify_one();
  waiter.join();
}
#endif

struct FakeEvent {
  int token_;
  unsigned readiness_;
  int token() const { return token_; }
  unsigned readiness() const { return readiness_; }
};

std::ostream& operator<<(std::ostream& os, const FakeEvent& e) {
  return os << "E" << e.token_;
}

TEST(Events, HasTokenLooksForTheTokenAndTheReadinessAsked) {
  const std::vector<FakeEvent> events = {{1, 0b01}, {2, 0b10}};
  EXPECT_TRUE(HasToken(events, 1));
  EXPECT_TRUE(HasToken(events, 2, 0b10));
  EXPECT_FALSE(HasToken(events, 1, 0b10));
  EXPECT_FALSE(HasToken(events, 3));
  EXPECT_FALSE(HasToken(std::vector<FakeEvent>{}, 1));
}

TEST(Events, DescribeEventsListsThemOrSaysThereAreNone) {
  EXPECT_EQ(DescribeEvents(std::vector<FakeEvent>{}), "no events");
  EXPECT_EQ(DescribeEvents(std::vector<FakeEvent>{{1, 0}, {2, 0}}), "E1, E2");
}

}  // namespace
}  // namespace testing
}  // namespace loop
