// Lesson 02: epoll on pipes and socket pairs, through the Epoll wrapper.
//
// Each test is one fact about epoll you can rely on (or must work around) when
// building an event loop on it. Pipes and socket pairs come from lesson 01's
// solution.
#include "loop/epoll.h"

#include "gtest/gtest.h"

#ifdef __linux__

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "loop/fd.h"
#include "loop/sys_error.h"
#include "tests/support/deadline.h"
#include "tests/support/errors.h"
#include "tests/support/fds.h"
#include "tests/support/threads.h"

namespace loop {
namespace {

using ::loop::testing::CaughtSysError;
using ::loop::testing::Clock;
using ::loop::testing::CurrentThreadId;
using ::loop::testing::FinishesWithin;
using ::loop::testing::IsBlockedInKernel;
using ::loop::testing::IsCloexec;
using ::loop::testing::kDefaultDeadline;
using ::loop::testing::SysErrorFrom;
using ::loop::testing::WaitUntil;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

constexpr char kReadme[] = " (see lessons/02_raw_epoll/README.md)";
constexpr std::uint64_t kData = 0x0123456789abcdefULL;
constexpr std::uint64_t kOtherData = 42;
constexpr int kMaxEvents = 8;
// When an event is due, Wait returns at once; this only bounds a broken Wait.
constexpr int kDueMs = 2000;

void WriteBytes(int fd, int count) {
  std::string bytes(count, 'x');
  ASSERT_EQ(write(fd, bytes.data(), bytes.size()),
            static_cast<ssize_t>(bytes.size()));
}

// Reads up to `count` bytes from a non-blocking fd; returns how many it got.
int ReadBytes(int fd, int count) {
  std::string buffer(count, '\0');
  ssize_t n = read(fd, buffer.data(), buffer.size());
  return n < 0 ? 0 : static_cast<int>(n);
}

// Reads a non-blocking fd until EAGAIN; returns how many bytes it read.
int Drain(int fd) {
  int total = 0;
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
      total += static_cast<int>(n);
    } else {
      EXPECT_TRUE(n == -1 && errno == EAGAIN) << "drain ended without EAGAIN";
      return total;
    }
  }
}

// epoll_event is packed on x86-64, so its data.u64 may be misaligned: read it
// by value, never bind a reference to it (as EXPECT_EQ would).
std::uint64_t DataOf(const epoll_event& event) { return event.data.u64; }

std::string Describe(const SysError& e) {
  return std::string("SysError: ") + e.what();
}

std::string Describe(const CaughtSysError& e) { return "SysError: " + e.what; }

TEST(EpollTest, CreateGivesACloexecEpollFd) {
  Epoll epoll = Epoll::Create();
  EXPECT_GE(epoll.fd(), 0);
  EXPECT_TRUE(IsCloexec(epoll.fd()))
      << "the epoll fd must be close-on-exec: epoll_create1(EPOLL_CLOEXEC)";
}

TEST(EpollTest, PipeIsReadableAfterWriteWithTheGivenData) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.read.get(), EPOLLIN, kData);
  epoll_event events[kMaxEvents];
  EXPECT_EQ(epoll.Wait(events, kMaxEvents, 0), 0)
      << "nothing was written yet, so nothing may be reported" << kReadme;

  WriteBytes(pipe.write.get(), 1);
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1)
      << "after one byte was written into the pipe, Wait must report exactly "
      << "its read end (registered with EPOLLIN)" << kReadme;
  EXPECT_TRUE(events[0].events & EPOLLIN) << "expected EPOLLIN";
  EXPECT_EQ(DataOf(events[0]), kData)
      << "Wait must hand back the data given to Add: it is the only way to "
      << "tell which fd is ready (store it in epoll_event.data.u64)" << kReadme;
}

TEST(EpollTest, WritableEndIsReportedUntilThePipeIsFull) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.write.get(), EPOLLOUT, kData);
  epoll_event events[kMaxEvents];
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1)
      << "an empty pipe's write end is writable: Wait must report it"
      << kReadme;
  EXPECT_TRUE(events[0].events & EPOLLOUT) << "expected EPOLLOUT";
  EXPECT_EQ(DataOf(events[0]), kData);

  std::string chunk(4096, 'x');
  while (write(pipe.write.get(), chunk.data(), chunk.size()) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN) << "filling the pipe should end with EAGAIN";
  EXPECT_EQ(epoll.Wait(events, kMaxEvents, 0), 0)
      << "a full pipe is not writable, so nothing may be reported" << kReadme;

  Drain(pipe.read.get());
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1)
      << "after the reader emptied the pipe, the write end is writable again";
  EXPECT_TRUE(events[0].events & EPOLLOUT);
}

TEST(EpollTest, LevelTriggeredReportsAgainWhileDataRemains) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.read.get(), EPOLLIN, kData);
  WriteBytes(pipe.write.get(), 2);
  epoll_event events[kMaxEvents];
  for (int round = 1; round <= 2; ++round) {
    ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1)
        << "level-triggered (no EPOLLET): Wait reports the fd every time while "
        << "unread data remains (round " << round << ")" << kReadme;
  }
  ASSERT_EQ(ReadBytes(pipe.read.get(), 1), 1);
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1)
      << "one byte is still unread, so level-triggered epoll reports it again";
  ASSERT_EQ(ReadBytes(pipe.read.get(), 1), 1);
  EXPECT_EQ(epoll.Wait(events, kMaxEvents, 0), 0)
      << "the pipe is empty now: nothing may be reported" << kReadme;
}

TEST(EpollTest, EdgeTriggeredReportsOnceUntilNewDataArrives) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.read.get(), EPOLLIN | EPOLLET, kData);
  WriteBytes(pipe.write.get(), 1);
  epoll_event events[kMaxEvents];
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1)
      << "the first byte is an edge: it must be reported" << kReadme;
  EXPECT_EQ(epoll.Wait(events, kMaxEvents, 0), 0)
      << "edge-triggered (EPOLLET): the fd was reported once and no new data "
      << "arrived since, so it is not reported again, although the byte is "
      << "still unread. Pass the events to epoll_ctl unchanged" << kReadme;
  WriteBytes(pipe.write.get(), 1);
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1)
      << "new data is a new edge: it must be reported" << kReadme;
  EXPECT_EQ(DataOf(events[0]), kData);
}

TEST(EpollTest, EdgeTriggeredNeedsDrainingToEagain) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.read.get(), EPOLLIN | EPOLLET, kData);
  WriteBytes(pipe.write.get(), 100);
  epoll_event events[kMaxEvents];
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1);
  ASSERT_EQ(ReadBytes(pipe.read.get(), 10), 10);
  EXPECT_EQ(epoll.Wait(events, kMaxEvents, 0), 0)
      << "90 bytes are still unread, yet edge-triggered epoll stays silent: a "
      << "loop that reads once and waits again would sleep with data in the "
      << "buffer. That is why an edge-triggered consumer reads until EAGAIN"
      << kReadme;
  EXPECT_EQ(Drain(pipe.read.get()), 90);
  WriteBytes(pipe.write.get(), 1);
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1)
      << "after draining to EAGAIN, the next byte is reported again";
}

TEST(EpollTest, OneShotDisablesTheFdUntilModify) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.read.get(), EPOLLIN | EPOLLONESHOT, kData);
  WriteBytes(pipe.write.get(), 1);
  epoll_event events[kMaxEvents];
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1);
  WriteBytes(pipe.write.get(), 1);
  EXPECT_EQ(epoll.Wait(events, kMaxEvents, 0), 0)
      << "EPOLLONESHOT disables the registration after one report, even when "
      << "new data arrives" << kReadme;
  epoll.Modify(pipe.read.get(), EPOLLIN | EPOLLONESHOT, kOtherData);
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1)
      << "Modify (EPOLL_CTL_MOD) re-arms a one-shot registration; the pipe "
      << "still holds 2 bytes, so it must be reported" << kReadme;
  EXPECT_EQ(DataOf(events[0]), kOtherData)
      << "Modify replaces the data too: Wait must report the new data";
}

// Whole milliseconds since `start`: gtest prints a plain number, not the bytes
// of a std::chrono::duration.
long long MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

TEST(EpollTest, ZeroTimeoutReturnsAtOnce) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.read.get(), EPOLLIN, kData);
  epoll_event events[kMaxEvents];
  auto start = Clock::now();
  EXPECT_EQ(epoll.Wait(events, kMaxEvents, 0), 0);
  EXPECT_LT(MsSince(start), 1000)
      << "Wait(..., 0) only checks; it must not block" << kReadme;
}

TEST(EpollTest, FiniteTimeoutWithNothingReadyReturnsZeroAfterTheTimeout) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.read.get(), EPOLLIN, kData);
  epoll_event events[kMaxEvents];
  auto start = Clock::now();
  EXPECT_EQ(epoll.Wait(events, kMaxEvents, 100), 0)
      << "nothing was written, so a wait that times out reports nothing";
  const long long elapsed_ms = MsSince(start);
  EXPECT_GE(elapsed_ms, 100)
      << "Wait(..., 100) returned after " << elapsed_ms
      << " ms: it must wait the whole timeout when nothing is ready" << kReadme;
  EXPECT_LT(elapsed_ms, 5000) << "Wait(..., 100) took far too long";
}

// Runs `action` on a helper thread once thread `tid` sleeps in epoll_wait
// (IsBlockedInKernel), or after a second at the latest (the test must be right
// either way).
class WhenBlocked {
 public:
  WhenBlocked(const std::atomic<long>& tid, std::function<void()> action)
      : thread_([this, &tid, action] {
          WaitUntil(
              [&] {
                return done_.load() ||
                       (tid.load() != 0 && IsBlockedInKernel(tid.load()));
              },
              milliseconds(1000));
          if (!done_.load()) action();
        }) {}
  // Call when the waiting is over: the action will not run any more.
  void Finish() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  ~WhenBlocked() { Finish(); }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

TEST(EpollTest, NegativeTimeoutWaitsUntilAnEvent) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  Pipe rescue = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.read.get(), EPOLLIN, kData);
  epoll.Add(rescue.read.get(), EPOLLIN, kOtherData);
  std::atomic<long> waiter{0};
  WhenBlocked writer(waiter, [&] { WriteBytes(pipe.write.get(), 1); });
  int n = -2;
  epoll_event events[kMaxEvents];
  bool in_time = FinishesWithin(
      kDefaultDeadline,
      [&] {
        waiter = CurrentThreadId();
        n = epoll.Wait(events, kMaxEvents, -1);
      },
      [&] { WriteBytes(rescue.write.get(), 1); });
  writer.Finish();
  EXPECT_TRUE(in_time) << "Wait(..., -1) did not return within "
                       << kDefaultDeadline.count()
                       << " ms although the pipe became readable" << kReadme;
  ASSERT_EQ(n, 1) << "Wait(..., -1) must block until an event arrives (here: "
                  << "a byte written while it waits), then report it; pass -1 "
                  << "to epoll_wait unchanged" << kReadme;
  EXPECT_EQ(DataOf(events[0]), kData);
}

// EINTR: a signal handled by the waiting thread interrupts epoll_wait, which
// then fails with EINTR, whatever SA_RESTART says (man 7 signal).
std::atomic<int> signals_handled{0};
static_assert(decltype(signals_handled)::is_always_lock_free,
              "the signal handler needs a lock-free counter");

void CountSignal(int) { signals_handled.fetch_add(1); }

// Installs CountSignal for SIGUSR1 (without SA_RESTART) while it lives.
class CountingSigusr1 {
 public:
  CountingSigusr1() {
    struct sigaction action {};
    action.sa_handler = CountSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // No SA_RESTART; epoll_wait ignores it anyway.
    installed_ = sigaction(SIGUSR1, &action, &previous_) == 0;
    signals_handled = 0;
  }
  bool installed() const { return installed_; }
  ~CountingSigusr1() {
    // Restore only when every signal sent was handled: a SIGUSR1 still pending
    // under the default action would end the test binary.
    if (installed_ && all_handled_) sigaction(SIGUSR1, &previous_, nullptr);
  }
  void set_all_handled(bool all) { all_handled_ = all; }

 private:
  struct sigaction previous_ {};
  bool installed_ = false;
  bool all_handled_ = false;
};

// Interrupts thread `tid` (its kernel id, set by that thread) with SIGUSR1
// `count` times, each time only once it sleeps in epoll_wait, and waits for
// each to be handled. Signal i (from 0) is also sent no earlier than
// (i + 1) * `spacing` after construction. Then runs `after`. Stops early when
// Finish() is called.
class Interrupter {
 public:
  Interrupter(const std::atomic<long>& tid, int count,
              std::function<void()> after,
              milliseconds spacing = milliseconds(0))
      : thread_([this, &tid, count, after, spacing] {
          const auto start = Clock::now();
          for (int i = 0; i < count; ++i) {
            const auto not_before = start + spacing * (i + 1);
            WaitUntil(
                [&] {
                  return done_.load() ||
                         (Clock::now() >= not_before && tid.load() != 0 &&
                          IsBlockedInKernel(tid.load()));
                },
                spacing * (i + 1) + milliseconds(1000));
            if (done_.load()) return;
            // tgkill: the signal goes to that one thread, not the process.
            if (syscall(SYS_tgkill, getpid(), tid.load(), SIGUSR1) != 0) return;
            sent_.fetch_add(1);
            if (!WaitUntil([&] { return signals_handled.load() > i; })) return;
          }
          if (!done_.load()) after();
        }) {}
  void Finish() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  ~Interrupter() { Finish(); }
  int sent() const { return sent_.load(); }

 private:
  std::atomic<bool> done_{false};
  std::atomic<int> sent_{0};
  std::thread thread_;
};

constexpr char kEintrIsNotAnError[] =
    "A signal handler ran while epoll_wait slept; that is not an error: call "
    "epoll_wait again";

TEST(EpollTest, WaitRetriesEintrAndStillReportsTheEvent) {
  constexpr int kSignals = 3;
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.read.get(), EPOLLIN, kData);
  CountingSigusr1 handler;
  ASSERT_TRUE(handler.installed()) << "test setup: sigaction(SIGUSR1) failed";
  std::atomic<long> tid{CurrentThreadId()};
  Interrupter interrupter(tid, kSignals,
                          [&] { WriteBytes(pipe.write.get(), 1); });
  int n = -2;
  epoll_event events[kMaxEvents];
  try {
    n = epoll.Wait(events, kMaxEvents, 5000);
  } catch (const SysError& e) {
    ADD_FAILURE() << "Wait threw " << Describe(e) << ". " << kEintrIsNotAnError
                  << kReadme;
  }
  interrupter.Finish();
  handler.set_all_handled(signals_handled.load() == interrupter.sent());
  EXPECT_EQ(interrupter.sent(), kSignals)
      << "Wait ended (returned " << n << ", or threw) after "
      << interrupter.sent() << " of " << kSignals
      << " signals, before anything was written: after EINTR it must call "
      << "epoll_wait again" << kReadme;
  ASSERT_EQ(n, 1) << "Wait was interrupted by signals (" << kSignals
                  << " were planned), then the pipe became readable: it must "
                  << "retry after each EINTR and report the one event"
                  << kReadme;
  EXPECT_EQ(DataOf(events[0]), kData);
}

// -1 means "no timeout": after EINTR it is still -1, not a remaining time.
TEST(EpollTest, WaitRetriesEintrWithNoTimeoutUntilAnEvent) {
  constexpr int kSignals = 3;
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  Pipe rescue = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.read.get(), EPOLLIN, kData);
  epoll.Add(rescue.read.get(), EPOLLIN, kOtherData);
  CountingSigusr1 handler;
  ASSERT_TRUE(handler.installed()) << "test setup: sigaction(SIGUSR1) failed";
  std::atomic<long> tid{0};
  Interrupter interrupter(tid, kSignals,
                          [&] { WriteBytes(pipe.write.get(), 1); });
  int n = -2;
  std::string error;
  epoll_event events[kMaxEvents];
  const bool in_time = FinishesWithin(
      kDefaultDeadline,
      [&] {
        tid = CurrentThreadId();
        try {
          n = epoll.Wait(events, kMaxEvents, -1);
        } catch (const SysError& e) {
          error = Describe(e);
        }
      },
      [&] { WriteBytes(rescue.write.get(), 1); });
  interrupter.Finish();
  handler.set_all_handled(signals_handled.load() == interrupter.sent());
  EXPECT_EQ(error, "") << "Wait(..., -1) threw. " << kEintrIsNotAnError
                       << kReadme;
  EXPECT_TRUE(in_time) << "Wait(..., -1) did not return within "
                       << kDefaultDeadline.count()
                       << " ms although the pipe became readable" << kReadme;
  EXPECT_EQ(interrupter.sent(), kSignals)
      << "Wait(..., -1) ended (returned " << n << ", or threw) after "
      << interrupter.sent() << " of " << kSignals
      << " signals, before anything was written. -1 means no timeout: after "
      << "EINTR call epoll_wait with -1 again, not with a remaining time "
      << "computed from it (that is 0 or less, and epoll_wait then returns at "
      << "once)" << kReadme;
  ASSERT_EQ(n, 1) << "Wait(..., -1) must retry after each EINTR and report "
                  << "the event that follows" << kReadme;
  EXPECT_EQ(DataOf(events[0]), kData);
}

TEST(EpollTest, WaitRetriesEintrUntilTheTimeoutIsUsedUp) {
  // Signals at 300, 600 and 900 ms into a 1000 ms wait. Retrying with the time
  // that remains ends the wait at about 1000 ms; restarting the full timeout
  // after each signal ends it at 1900 ms or later.
  constexpr int kSignals = 3;
  constexpr int kTimeoutMs = 1000;
  constexpr milliseconds kSpacing{300};
  constexpr milliseconds kTooLong{1800};
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.read.get(), EPOLLIN, kData);
  CountingSigusr1 handler;
  ASSERT_TRUE(handler.installed()) << "test setup: sigaction(SIGUSR1) failed";
  std::atomic<long> tid{CurrentThreadId()};
  Interrupter interrupter(
      tid, kSignals, [] {}, kSpacing);
  int n = -2;
  epoll_event events[kMaxEvents];
  auto start = Clock::now();
  try {
    n = epoll.Wait(events, kMaxEvents, kTimeoutMs);
  } catch (const SysError& e) {
    ADD_FAILURE() << "Wait threw " << Describe(e) << ". " << kEintrIsNotAnError
                  << kReadme;
  }
  const long long elapsed_ms = MsSince(start);
  interrupter.Finish();
  handler.set_all_handled(signals_handled.load() == interrupter.sent());
  EXPECT_GE(interrupter.sent(), 1)
      << "test setup: no signal reached Wait; it returned " << n;
  EXPECT_EQ(n, 0) << "nothing was written: after retrying EINTR, Wait must "
                  << "time out with 0 events" << kReadme;
  // Each retry that rounds the remaining time down to whole milliseconds
  // loses less than 1 ms, so that bug ends the wait at most one millisecond
  // per signal early; a wait that a signal cut short ends far earlier.
  const long long early_ms = kTimeoutMs - elapsed_ms;
  if (early_ms > 0 && early_ms <= interrupter.sent()) {
    ADD_FAILURE() << "Wait(..., " << kTimeoutMs << ") returned after "
                  << elapsed_ms << " ms, " << early_ms << " ms early after "
                  << interrupter.sent() << " signals: less than 1 ms lost per "
                  << "retry, so you rounded the remaining time down (a "
                  << "duration_cast to milliseconds truncates). The timeout is "
                  << "also a lower bound: Wait must not return before it is "
                  << "used up, so round the remaining time up "
                  << "(std::chrono::ceil)" << kReadme;
  } else {
    EXPECT_GE(elapsed_ms, kTimeoutMs)
        << "Wait(..., " << kTimeoutMs << ") returned after " << elapsed_ms
        << " ms: a signal must not cut the wait short; retry with the time "
        << "that remains" << kReadme;
  }
  EXPECT_LT(elapsed_ms, kTooLong.count())
      << "Wait(..., " << kTimeoutMs << ") took " << elapsed_ms << " ms with "
      << interrupter.sent() << " signals " << kSpacing.count()
      << " ms apart: it restarted the full timeout after EINTR. Pass only the "
      << "time that remains" << kReadme;
}

TEST(EpollTest, DeleteStopsReports) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.read.get(), EPOLLIN, kData);
  WriteBytes(pipe.write.get(), 1);
  epoll.Delete(pipe.read.get());
  epoll_event events[kMaxEvents];
  EXPECT_EQ(epoll.Wait(events, kMaxEvents, 0), 0)
      << "after Delete (EPOLL_CTL_DEL) the fd must not be reported, although "
      << "it is readable" << kReadme;
  epoll.Add(pipe.read.get(), EPOLLIN, kOtherData);
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1)
      << "after Delete the fd can be added again";
  EXPECT_EQ(DataOf(events[0]), kOtherData);
}

TEST(EpollTest, AddTwiceThrowsEexistNamingTheCallAndFd) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  const int fd = pipe.read.get();
  epoll.Add(fd, EPOLLIN, kData);
  const std::string example =
      "\"epoll_ctl(EPOLL_CTL_ADD, fd " + std::to_string(fd) + ")\"";
  if (auto error = SysErrorFrom([&] { epoll.Add(fd, EPOLLIN, kData); },
                                "adding fd " + std::to_string(fd) +
                                    " a second time must throw SysError "
                                    "(EEXIST): check epoll_ctl's result" +
                                    kReadme)) {
    EXPECT_EQ(error->err, EEXIST) << Describe(*error);
    EXPECT_THAT(error->what, HasSubstr("EEXIST"));
    EXPECT_THAT(error->what, HasSubstr("EPOLL_CTL_ADD"))
        << "the message must name the operation, e.g. " << example << kReadme;
    EXPECT_THAT(error->what, HasSubstr("fd " + std::to_string(fd)))
        << "the message must name the fd, e.g. " << example << kReadme;
  }
}

TEST(EpollTest, ModifyOrDeleteOfAnUnregisteredFdThrowsEnoent) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  const int fd = pipe.read.get();
  const std::string never_added =
      " of fd " + std::to_string(fd) +
      ", which was never added, must throw SysError (ENOENT)" + kReadme;
  if (auto error = SysErrorFrom([&] { epoll.Modify(fd, EPOLLIN, kData); },
                                "Modify" + never_added)) {
    EXPECT_EQ(error->err, ENOENT) << Describe(*error);
    EXPECT_THAT(error->what, HasSubstr("EPOLL_CTL_MOD"));
    EXPECT_THAT(error->what, HasSubstr("fd " + std::to_string(fd)));
  }
  if (auto error =
          SysErrorFrom([&] { epoll.Delete(fd); }, "Delete" + never_added)) {
    EXPECT_EQ(error->err, ENOENT) << Describe(*error);
    EXPECT_THAT(error->what, HasSubstr("EPOLL_CTL_DEL"));
    EXPECT_THAT(error->what, HasSubstr("fd " + std::to_string(fd)));
  }
}

TEST(EpollTest, AddOfAClosedFdThrowsEbadf) {
  Epoll epoll = Epoll::Create();
  int closed;
  {
    Pipe pipe = MakePipe();
    closed = pipe.read.get();
  }  // Both ends closed here; nothing in this test opens that number again.
  if (auto error = SysErrorFrom([&] { epoll.Add(closed, EPOLLIN, kData); },
                                "Add of closed fd " + std::to_string(closed) +
                                    " must throw SysError (EBADF)" + kReadme)) {
    EXPECT_EQ(error->err, EBADF) << Describe(*error);
  }
}

TEST(EpollTest, AddOfARegularFileThrowsEperm) {
  std::string dir =
      std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  std::string path = dir + "/epoll_test_XXXXXX";
  Fd file(mkostemp(path.data(), O_CLOEXEC));
  ASSERT_TRUE(file.valid()) << "test setup: mkostemp failed";
  unlink(path.c_str());
  Epoll epoll = Epoll::Create();
  if (auto error = SysErrorFrom(
          [&] { epoll.Add(file.get(), EPOLLIN, kData); },
          std::string("Add of a regular file must throw SysError (EPERM): "
                      "epoll cannot watch files, which are always ready") +
              kReadme)) {
    EXPECT_EQ(error->err, EPERM) << Describe(*error);
  }
}

TEST(EpollTest, ClosedPeerSocketReportsRdhupAndHup) {
  Epoll epoll = Epoll::Create();
  auto [mine, peer] = MakeSocketPair();
  epoll.Add(mine.get(), EPOLLIN | EPOLLRDHUP, kData);
  epoll_event events[kMaxEvents];
  EXPECT_EQ(epoll.Wait(events, kMaxEvents, 0), 0);
  peer.reset();
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1)
      << "closing the peer must wake the other end" << kReadme;
  EXPECT_TRUE(events[0].events & EPOLLRDHUP)
      << "the peer closed: EPOLLRDHUP (asked for) says no more data will come";
  EXPECT_TRUE(events[0].events & EPOLLHUP)
      << "both directions are shut: EPOLLHUP (always reported, never asked "
      << "for) says the connection is gone";
  EXPECT_TRUE(events[0].events & EPOLLIN)
      << "EOF is readable: read() returns 0 without blocking";
}

TEST(EpollTest, ClosedPipeWriteEndReportsHupWithoutBeingAsked) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  epoll.Add(pipe.read.get(), EPOLLIN, kData);
  pipe.write.reset();
  epoll_event events[kMaxEvents];
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1)
      << "closing a pipe's only write end must wake the read end" << kReadme;
  EXPECT_TRUE(events[0].events & EPOLLHUP)
      << "expected EPOLLHUP: epoll reports it even when only EPOLLIN was asked";
  EXPECT_EQ(DataOf(events[0]), kData);
}

// The kernel fact behind lesson 01's question and lesson 09's bug.
TEST(EpollTest, RegistrationBelongsToTheOpenFileNotToTheNumber) {
  Epoll epoll = Epoll::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  const int number = pipe.read.get();
  epoll.Add(number, EPOLLIN, kData);
  Fd duplicate = pipe.read.Duplicate();
  pipe.read.reset();  // Close the registered number; the dup keeps the pipe.
  WriteBytes(pipe.write.get(), 1);
  epoll_event events[kMaxEvents];
  ASSERT_EQ(epoll.Wait(events, kMaxEvents, kDueMs), 1)
      << "fd " << number << " was closed, yet epoll still reports it: the "
      << "registration belongs to the open pipe, which the duplicate keeps "
      << "alive" << kReadme;
  EXPECT_EQ(DataOf(events[0]), kData);
  if (auto error =
          SysErrorFrom([&] { epoll.Delete(number); },
                       "Delete of closed fd " + std::to_string(number) +
                           " must fail (EBADF)")) {
    EXPECT_EQ(error->err, EBADF)
        << "the number is gone, so it can no longer be deleted: "
        << error->what;
  }
  duplicate.reset();  // The pipe's last read fd: now the registration goes.
  EXPECT_EQ(epoll.Wait(events, kMaxEvents, 0), 0)
      << "closing the last fd of the pipe's read end removes its registration";
}

}  // namespace
}  // namespace loop

#else  // !__linux__

TEST(EpollTest, LinuxOnly) {
  GTEST_SKIP() << "epoll is Linux-only; lesson 03 is your kqueue lesson";
}

#endif  // __linux__
