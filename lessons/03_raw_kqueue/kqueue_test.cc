// Lesson 03: raw kqueue. The scenarios of lesson 02, on kqueue.
//
// These tests describe a real kqueue (FreeBSD's man 2 kqueue, and macOS). On
// Linux they run on the emulation in loop/port; docs/kqueue-emulation.md
// lists where it differs. Every wait has a deadline; nothing here sleeps to
// synchronize.
#include "loop/kqueue.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "loop/fd.h"
#include "loop/sys_error.h"
#include "tests/support/deadline.h"
#include "tests/support/errors.h"
#include "tests/support/fds.h"

namespace loop {
namespace {

using std::chrono::milliseconds;
using testing::Clock;
using testing::SysErrorFrom;

constexpr char kReadme[] = " See lessons/03_raw_kqueue/README.md.";

struct kevent Change(int fd, int filter, unsigned flags,
                     void* udata = nullptr) {
  struct kevent kev;
  EV_SET(&kev, fd, filter, flags, 0, 0, udata);
  return kev;
}

void Add(Kqueue& kq, int fd, int filter, unsigned extra_flags = 0,
         void* udata = nullptr) {
  const struct kevent change = Change(fd, filter, EV_ADD | extra_flags, udata);
  kq.Apply(&change, 1);
}

void WriteBytes(int fd, int n) {
  const std::string bytes(n, 'x');
  ASSERT_EQ(write(fd, bytes.data(), bytes.size()), n) << DescribeSysError(
      "test setup: write(fd " + std::to_string(fd) + ")", errno);
}

// What went wrong when an event that was due before an Apply is gone after it.
constexpr char kSwallowed[] =
    " What made them due happened before this Wait, so the kernel holds them "
    "and a Wait that only looks (timeout 0) reports them at once. Apply's "
    "kevent() call took them: with room in its event list and no EV_RECEIPT "
    "on its changes, kevent() also returns pending events (and EV_CLEAR "
    "resets them). OR EV_RECEIPT into every change's flags.";

// Waits (up to 5 s) for one event and returns it; fails the test if none came.
struct kevent WaitOne(Kqueue& kq, const std::string& what) {
  struct kevent event {};
  const int n = kq.Wait(&event, 1, 5000);
  EXPECT_EQ(n, 1) << "expected an event (" << what << ") within 5 s, got none."
                  << kReadme;
  return event;
}

// Looks (timeout 0, room for `room`) for `expected` events that were due
// before the call: what made them due (a write, a fresh pipe's room) happened
// first, so the kernel holds them. An Apply without EV_RECEIPT takes such
// events; this fails at once instead of waiting out a deadline.
int LookForDue(Kqueue& kq, struct kevent* events, int room, int expected,
               const std::string& what) {
  const int n = kq.Wait(events, room, 0);
  EXPECT_EQ(n, expected) << "expected " << expected << " event(s) (" << what
                         << ") at once, got " << n << "." << kSwallowed
                         << kReadme;
  return n;
}

// -----------------------------------------------------------------------------
// Given in the starter: naming filters and flags for messages.

TEST(KqueueNamesTest, FiltersAndFlagsHaveNames) {
  EXPECT_EQ(FilterName(EVFILT_READ), "EVFILT_READ");
  EXPECT_EQ(FilterName(EVFILT_WRITE), "EVFILT_WRITE");
  EXPECT_EQ(KeventFlagsName(EV_ADD | EV_CLEAR), "EV_ADD|EV_CLEAR");
  const struct kevent kev = Change(7, EVFILT_READ, EV_DELETE);
  EXPECT_NE(DescribeKevent(kev).find("ident 7, EVFILT_READ, EV_DELETE"),
            std::string::npos)
      << DescribeKevent(kev);
}

// -----------------------------------------------------------------------------
// The queue itself.

TEST(KqueueTest, CreateGivesACloseOnExecFd) {
  Kqueue kq = Kqueue::Create();
  ASSERT_TRUE(testing::IsOpen(kq.fd())) << "Create() returned fd " << kq.fd();
  EXPECT_TRUE(testing::IsCloexec(kq.fd()))
      << "kqueue() has no close-on-exec flag: set FD_CLOEXEC with fcntl right "
         "after creating it, or a program that forks and execs leaks the queue."
      << kReadme;
}

TEST(KqueueTest, ClosesItsFdWhenDestroyed) {
  int fd;
  {
    Kqueue kq = Kqueue::Create();
    fd = kq.fd();
  }
  EXPECT_FALSE(testing::IsOpen(fd))
      << "the kqueue fd " << fd << " is still open after the Kqueue is gone."
      << kReadme;
}

// man 2 kqueue (FreeBSD; macOS behaves the same): "The queue is not inherited
// by a child created with fork(2)." The Linux emulation imitates this: in the
// child it closes every kqueue descriptor it knows (docs/kqueue-emulation.md).
TEST(KqueueTest, AForkedChildDoesNotInheritTheQueue) {
  Kqueue kq = Kqueue::Create();
  const pid_t child = fork();
  ASSERT_NE(child, -1) << DescribeSysError("fork()", errno);
  if (child == 0) {
    // Only async-signal-safe calls in the child of a threaded process.
    struct kevent event;
    const struct timespec zero = {0, 0};
    const bool usable = kevent(kq.fd(), nullptr, 0, &event, 1, &zero) != -1;
    _exit(usable ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child)
      << DescribeSysError("waitpid", errno);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child could still use the parent's kqueue after fork()";
}

// -----------------------------------------------------------------------------
// Readiness.

TEST(KqueueTest, PipeReadableReportsTheBytesAvailable) {
  Kqueue kq = Kqueue::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  int marker = 0;
  Add(kq, pipe.read.get(), EVFILT_READ, 0, &marker);
  WriteBytes(pipe.write.get(), 5);
  const struct kevent event = WaitOne(kq, "pipe readable");
  EXPECT_EQ(event.ident, static_cast<std::uintptr_t>(pipe.read.get()))
      << DescribeKevent(event);
  EXPECT_EQ(event.filter, EVFILT_READ) << DescribeKevent(event);
  EXPECT_EQ(event.data, 5) << "EVFILT_READ's data is the number of bytes ready "
                              "to read; got "
                           << DescribeKevent(event) << kReadme;
  EXPECT_EQ(event.udata, &marker)
      << "udata comes back exactly as it was registered";
}

TEST(KqueueTest, NothingWrittenNothingReported) {
  Kqueue kq = Kqueue::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  Add(kq, pipe.read.get(), EVFILT_READ);
  struct kevent event {};
  EXPECT_EQ(kq.Wait(&event, 1, 0), 0)
      << "an empty pipe is not readable, yet got " << DescribeKevent(event);
}

TEST(KqueueTest, FreshSocketIsWritable) {
  Kqueue kq = Kqueue::Create();
  auto [a, b] = MakeSocketPair();
  Add(kq, a.get(), EVFILT_WRITE);
  const struct kevent event = WaitOne(kq, "socket writable");
  EXPECT_EQ(event.filter, EVFILT_WRITE) << DescribeKevent(event);
  EXPECT_GT(event.data, 0)
      << "EVFILT_WRITE's data is the room left in the send buffer; got "
      << DescribeKevent(event);
}

TEST(KqueueTest, LevelTriggeredByDefault) {
  Kqueue kq = Kqueue::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  Add(kq, pipe.read.get(), EVFILT_READ);
  WriteBytes(pipe.write.get(), 1);
  WaitOne(kq, "first report");
  struct kevent event {};
  EXPECT_EQ(kq.Wait(&event, 1, 0), 1)
      << "without EV_CLEAR a filter is level-triggered: the unread byte is "
         "reported on every Wait."
      << kReadme;
}

TEST(KqueueTest, EvClearReportsOnlyChanges) {
  Kqueue kq = Kqueue::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  Add(kq, pipe.read.get(), EVFILT_READ, EV_CLEAR);
  WriteBytes(pipe.write.get(), 1);
  EXPECT_EQ(WaitOne(kq, "first write").data, 1);

  struct kevent event {};
  EXPECT_EQ(kq.Wait(&event, 1, 0), 0) << "with EV_CLEAR the state is reset "
                                         "once retrieved: the same unread byte "
                                         "must not be reported again; got "
                                      << DescribeKevent(event) << kReadme;

  WriteBytes(pipe.write.get(), 2);
  const struct kevent again = WaitOne(kq, "new data after EV_CLEAR");
  EXPECT_EQ(again.data, 3) << "data counts every unread byte, old and new: "
                           << DescribeKevent(again);

  // Drain until EAGAIN, as an edge-triggered consumer must.
  char buffer[16];
  EXPECT_EQ(read(pipe.read.get(), buffer, sizeof buffer), 3);
  EXPECT_EQ(read(pipe.read.get(), buffer, sizeof buffer), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(kq.Wait(&event, 1, 0), 0) << "drained: nothing to report";
}

TEST(KqueueTest, EvOneshotFiresOnceThenIsDeleted) {
  Kqueue kq = Kqueue::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  Add(kq, pipe.read.get(), EVFILT_READ, EV_ONESHOT);
  WriteBytes(pipe.write.get(), 1);
  WaitOne(kq, "the one shot");
  WriteBytes(pipe.write.get(), 1);
  struct kevent event {};
  EXPECT_EQ(kq.Wait(&event, 1, 0), 0)
      << "EV_ONESHOT: after the first event the filter is gone; got "
      << DescribeKevent(event) << kReadme;
  const struct kevent del = Change(pipe.read.get(), EVFILT_READ, EV_DELETE);
  if (auto error = SysErrorFrom([&] { kq.Apply(&del, 1); },
                                "the one-shot filter should already be "
                                "deleted, so EV_DELETE should fail with "
                                "ENOENT")) {
    EXPECT_EQ(error->err, ENOENT) << error->what;
  }
}

TEST(KqueueTest, EvEofWhenThePeerCloses) {
  Kqueue kq = Kqueue::Create();
  auto [a, b] = MakeSocketPair();
  Add(kq, a.get(), EVFILT_READ);
  b.reset();
  const struct kevent event = WaitOne(kq, "socket peer closed");
  EXPECT_EQ(event.filter, EVFILT_READ);
  EXPECT_TRUE(event.flags & EV_EOF)
      << "the peer closed: EVFILT_READ sets EV_EOF; got "
      << DescribeKevent(event) << kReadme;
}

TEST(KqueueTest, EvEofOnPipes) {
  {
    Kqueue kq = Kqueue::Create();
    Pipe pipe = MakePipe(O_NONBLOCK);
    Add(kq, pipe.read.get(), EVFILT_READ);
    pipe.write.reset();
    const struct kevent event = WaitOne(kq, "pipe writer closed");
    EXPECT_TRUE(event.filter == EVFILT_READ && (event.flags & EV_EOF))
        << "the last writer closed: EVFILT_READ with EV_EOF; got "
        << DescribeKevent(event) << kReadme;
  }
  {
    Kqueue kq = Kqueue::Create();
    Pipe pipe = MakePipe(O_NONBLOCK);
    Add(kq, pipe.write.get(), EVFILT_WRITE, EV_CLEAR);
    struct kevent writable {};
    LookForDue(kq, &writable, 1, 1, "an empty pipe is writable");
    pipe.read.reset();
    const struct kevent event = WaitOne(kq, "pipe reader closed");
    EXPECT_TRUE(event.filter == EVFILT_WRITE && (event.flags & EV_EOF))
        << "the reader closed: EVFILT_WRITE with EV_EOF (writes would fail "
           "with EPIPE); got "
        << DescribeKevent(event) << kReadme;
  }
}

TEST(KqueueTest, ReadAndWriteAreSeparateRegistrations) {
  Kqueue kq = Kqueue::Create();
  auto [a, b] = MakeSocketPair();
  WriteBytes(b.get(), 1);
  Add(kq, a.get(), EVFILT_READ);
  Add(kq, a.get(), EVFILT_WRITE);
  struct kevent events[4];
  const int n = kq.Wait(events, 4, 5000);
  bool read = false, write = false;
  for (int i = 0; i < n; ++i) {
    read = read || events[i].filter == EVFILT_READ;
    write = write || events[i].filter == EVFILT_WRITE;
  }
  EXPECT_TRUE(read && write)
      << "one fd, two filters: kqueue keeps one registration per (ident, "
         "filter) and reports each on its own; got "
      << n << " events." << kReadme;

  // Deleting one leaves the other.
  const struct kevent del_read = Change(a.get(), EVFILT_READ, EV_DELETE);
  kq.Apply(&del_read, 1);
  const struct kevent del_write = Change(a.get(), EVFILT_WRITE, EV_DELETE);
  EXPECT_NO_THROW(kq.Apply(&del_write, 1))
      << "EVFILT_WRITE should still be registered after deleting EVFILT_READ";
}

TEST(KqueueTest, WaitReturnsAtMostMaxEvents) {
  Kqueue kq = Kqueue::Create();
  std::vector<Pipe> pipes;
  for (int i = 0; i < 3; ++i) {
    pipes.push_back(MakePipe(O_NONBLOCK));
    Add(kq, pipes.back().read.get(), EVFILT_READ, EV_CLEAR);
    WriteBytes(pipes.back().write.get(), 1);
  }
  struct kevent events[3];
  LookForDue(kq, events, 2, 2, "three pipes written to, room for two");
  LookForDue(kq, events, 3, 1,
             "the one that did not fit, reported by the next Wait");
}

// -----------------------------------------------------------------------------
// Timeouts and signals.

TEST(KqueueTest, ZeroTimeoutReturnsAtOnce) {
  Kqueue kq = Kqueue::Create();
  Pipe rescue = MakePipe(O_NONBLOCK);
  Add(kq, rescue.read.get(), EVFILT_READ);
  int got = -1;
  const bool in_time = testing::FinishesWithin(
      milliseconds(2000),
      [&] {
        struct kevent event;
        got = kq.Wait(&event, 1, 0);
      },
      [&] { WriteBytes(rescue.write.get(), 1); });
  EXPECT_TRUE(in_time) << "Wait(..., 0) blocked: a zero timeout means look and "
                          "return (a zeroed timespec, not a null pointer)."
                       << kReadme;
  if (in_time) {
    EXPECT_EQ(got, 0) << "nothing was ready";
  }
}

TEST(KqueueTest, FiniteTimeoutWaitsAtLeastThatLong) {
  Kqueue kq = Kqueue::Create();
  const auto start = Clock::now();
  struct kevent event;
  EXPECT_EQ(kq.Wait(&event, 1, 50), 0);
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, milliseconds(50))
      << "Wait(..., 50) returned after "
      << std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()
      << " us with nothing ready." << kReadme;
}

TEST(KqueueTest, ForeverWaitsForAnEventFromAnotherThread) {
  Kqueue kq = Kqueue::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  Add(kq, pipe.read.get(), EVFILT_READ);
  testing::Latch about_to_wait(1);
  std::thread writer([&] {
    if (about_to_wait.Wait()) WriteBytes(pipe.write.get(), 1);
  });
  int got = 0;
  bool rescued = false;
  const bool in_time = testing::FinishesWithin(
      testing::kDefaultDeadline,
      [&] {
        about_to_wait.CountDown();
        struct kevent event;
        got = kq.Wait(&event, 1, -1);
      },
      [&] {
        rescued = true;
        WriteBytes(pipe.write.get(), 1);
      });
  writer.join();
  EXPECT_TRUE(in_time && !rescued)
      << "Wait(..., -1) did not return within 5 s of another thread's write.";
  EXPECT_EQ(got, 1) << "Wait(..., -1) must block until there is an event (a "
                       "null timespec pointer), not return empty."
                    << kReadme;
}

std::atomic<int> signals_handled{0};
extern "C" void CountSignal(int) { signals_handled.fetch_add(1); }

TEST(KqueueTest, WaitRetriesAfterASignal) {
  Kqueue kq = Kqueue::Create();
  // A handler installed without SA_RESTART makes a blocked kevent() fail with
  // EINTR.
  struct sigaction action = {}, old_action = {};
  action.sa_handler = CountSignal;
  sigemptyset(&action.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &action, &old_action), 0);
  signals_handled = 0;

  // Signals every 2 ms (a rate, not an ordering: any of them interrupts the
  // wait) for the first 900 ms of a 1000 ms wait. Retrying with the time that
  // remains ends the wait near 1000 ms; restarting the full timeout after a
  // signal ends it at 1900 ms or later.
  constexpr int kTimeoutMs = 1000;
  constexpr milliseconds kSignalFor{900};
  constexpr milliseconds kTooLong{1800};
  const pthread_t waiter = pthread_self();
  std::atomic<bool> done{false};
  const auto start = Clock::now();
  std::thread sender([&] {
    while (!done.load() && Clock::now() - start < kSignalFor) {
      pthread_kill(waiter, SIGUSR1);
      std::this_thread::sleep_for(milliseconds(2));
    }
  });
  int got = -1;
  std::string error;
  try {
    struct kevent event;
    got = kq.Wait(&event, 1, kTimeoutMs);
  } catch (const std::exception& e) {
    error = e.what();
  }
  const auto elapsed_ms =
      std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  done = true;
  sender.join();
  sigaction(SIGUSR1, &old_action, nullptr);

  EXPECT_EQ(error, "") << "a signal is not an error: retry the wait."
                       << kReadme;
  EXPECT_EQ(got, 0) << "nothing was ever ready";
  EXPECT_GE(elapsed_ms, kTimeoutMs)
      << "Wait(..., " << kTimeoutMs << ") gave up after " << elapsed_ms
      << " ms: after EINTR, wait again for the time that remains." << kReadme;
  EXPECT_LT(elapsed_ms, kTooLong.count())
      << "Wait(..., " << kTimeoutMs << ") took " << elapsed_ms
      << " ms while signals came during its first " << kSignalFor.count()
      << " ms: it restarted the full timeout after EINTR. Wait again for the "
         "time that remains."
      << kReadme;
  EXPECT_GT(signals_handled.load(), 0) << "test setup: no signal arrived";
}

// -----------------------------------------------------------------------------
// Errors: each change reports its own, and the message says which.

TEST(KqueueTest, DeletingWhatIsNotThereIsENOENT) {
  Kqueue kq = Kqueue::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  const struct kevent del = Change(pipe.read.get(), EVFILT_READ, EV_DELETE);
  if (auto error = SysErrorFrom(
          [&] { kq.Apply(&del, 1); },
          std::string("EV_DELETE of a filter that was never added must fail.") +
              kReadme)) {
    const std::string& what = error->what;
    EXPECT_EQ(error->err, ENOENT) << what;
    EXPECT_NE(what.find("ENOENT"), std::string::npos) << what;
    EXPECT_NE(what.find("ident " + std::to_string(pipe.read.get())),
              std::string::npos)
        << "the message should name the change's ident: " << what;
    EXPECT_NE(what.find("EVFILT_READ"), std::string::npos)
        << "the message should name the change's filter: " << what;
  }
}

TEST(KqueueTest, AddingABadFdIsEBADF) {
  Kqueue kq = Kqueue::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  const int closed = pipe.read.get();
  pipe.read.reset();
  const struct kevent add = Change(closed, EVFILT_READ, EV_ADD);
  if (auto error = SysErrorFrom(
          [&] { kq.Apply(&add, 1); },
          std::string("EV_ADD of a closed fd must fail with EBADF.") +
              kReadme)) {
    EXPECT_EQ(error->err, EBADF) << error->what;
    EXPECT_NE(error->what.find("EBADF"), std::string::npos) << error->what;
  }
}

TEST(KqueueTest, EveryChangeIsTriedAndTheFirstFailureReported) {
  Kqueue kq = Kqueue::Create();
  Pipe first = MakePipe(O_NONBLOCK);
  Pipe never_added = MakePipe(O_NONBLOCK);
  Pipe last = MakePipe(O_NONBLOCK);
  const struct kevent changes[] = {
      Change(first.read.get(), EVFILT_READ, EV_ADD),
      Change(never_added.read.get(), EVFILT_READ, EV_DELETE),
      Change(last.read.get(), EVFILT_READ, EV_ADD),
  };
  if (auto error =
          SysErrorFrom([&] { kq.Apply(changes, 3); },
                       "the middle change (EV_DELETE of nothing) must fail")) {
    EXPECT_EQ(error->err, ENOENT) << error->what;
    EXPECT_NE(
        error->what.find("ident " + std::to_string(never_added.read.get())),
        std::string::npos)
        << "name the change that failed: " << error->what;
  }
  // With EV_RECEIPT the kernel carries on after a failed change.
  WriteBytes(last.write.get(), 1);
  const struct kevent event = WaitOne(kq, "the change after the failure");
  EXPECT_EQ(event.ident, static_cast<std::uintptr_t>(last.read.get()))
      << "the change after the failing one was not applied: send every change "
         "with EV_RECEIPT so that each reports its own result."
      << kReadme;
}

TEST(KqueueTest, ApplyDoesNotConsumePendingEvents) {
  Kqueue kq = Kqueue::Create();
  Pipe ready = MakePipe(O_NONBLOCK);
  Pipe other = MakePipe(O_NONBLOCK);
  Add(kq, ready.read.get(), EVFILT_READ, EV_CLEAR);
  WriteBytes(ready.write.get(), 1);
  // A plain kevent() with room in its event list would also return (and, with
  // EV_CLEAR, use up) the pending event; EV_RECEIPT fills the list with
  // receipts.
  Add(kq, other.read.get(), EVFILT_READ);
  struct kevent event {};
  if (LookForDue(kq, &event, 1, 1,
                 "fd " + std::to_string(ready.read.get()) +
                     " readable, pending before that Apply") != 1) {
    return;
  }
  EXPECT_EQ(event.ident, static_cast<std::uintptr_t>(ready.read.get()))
      << "the pending event of fd " << ready.read.get()
      << " was swallowed by Apply." << kReadme;
}

TEST(KqueueTest, UdataCarriesSixtyFourBits) {
  Kqueue kq = Kqueue::Create();
  Pipe pipe = MakePipe(O_NONBLOCK);
  void* const udata = reinterpret_cast<void*>(
      static_cast<std::uintptr_t>(std::numeric_limits<std::uint64_t>::max()));
  Add(kq, pipe.read.get(), EVFILT_READ, 0, udata);
  WriteBytes(pipe.write.get(), 1);
  EXPECT_EQ(WaitOne(kq, "readable").udata, udata);
}

}  // namespace
}  // namespace loop
