// Every system call the final library makes, failed with an errno the kernel
// can return there, at the first call and at the Nth. For each: the error is a
// SysError naming the call and the errno (or the documented retry happens), no
// fd leaks, nothing half-built stays registered, and what remains is usable.
// The table of cases is tests/fault_injection/README.md.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "loop/loop.h"
#include "loop/sys_error.h"
#include "tests/fault_injection/fault.h"
#include "tests/support/deadline.h"
#include "tests/support/errors.h"
#include "tests/support/events.h"
#include "tests/support/fds.h"
#include "tests/support/wakes.h"

namespace loop {
namespace testing {
namespace {

using std::chrono::milliseconds;

constexpr Token kToken{5};
constexpr milliseconds kDeadline{2000};

// Runs `op` with call `call` failing the `nth` time with `err`, and checks:
// SysError whose what() names `names` and the errno; plan fired; no fd leaked.
void ExpectSysError(Call call, int nth, int err, const std::string& names,
                    const std::function<void()>& op) {
  // The kqueue emulation frees a dead kqueue's eventfd at the next kqueue(),
  // even one that then fails: settle that before both counts.
  const auto settle = [] { Poll warm(Backend::kKqueue); };
  settle();
  const int before = CountOpenFds();
  std::optional<CaughtSysError> error;
  {
    FaultPlan plan(call, nth, err);
    error = SysErrorFrom(op, std::string(CallName(call)) + " call " +
                                 std::to_string(nth) + " failed with " +
                                 ErrnoName(err) +
                                 ", so the operation must throw SysError");
    EXPECT_TRUE(plan.fired()) << "the operation made only " << plan.calls()
                              << " " << CallName(call) << " calls";
  }
  if (error) {
    EXPECT_EQ(error->err, err) << error->what;
    EXPECT_NE(error->what.find(names), std::string::npos)
        << "the message must name the call (" << names << "): " << error->what;
    EXPECT_NE(error->what.find(ErrnoName(err)), std::string::npos)
        << "the message must name the errno: " << error->what;
  }
  settle();
  EXPECT_EQ(CountOpenFds(), before)
      << "after " << CallName(call) << " failed with " << ErrnoName(err)
      << ", the descriptors opened before the failure must be closed";
}

// A Poll of `backend` whose kqueue emulation state is warmed up (a dead
// kqueue's eventfd is freed by the next kqueue()), so fd counts are stable.
void WarmUp(Backend backend) { Poll warm(backend); }

// --- Poll construction ------------------------------------------------------

TEST(PollFaults, EpollCreate1Fails) {
  for (int err : {EMFILE, ENFILE, ENOMEM}) {
    ExpectSysError(Call::kEpollCreate1, 1, err, "epoll_create1",
                   [] { Poll poll(Backend::kEpoll); });
  }
  Poll poll(Backend::kEpoll);  // Usable again.
}

TEST(PollFaults, KqueueFails) {
  WarmUp(Backend::kKqueue);
  for (int err : {EMFILE, ENFILE, ENOMEM}) {
    ExpectSysError(Call::kKqueue, 1, err, "kqueue()",
                   [] { Poll poll(Backend::kKqueue); });
  }
}

TEST(PollFaults, KqueueEmulationInternalsFail) {
  WarmUp(Backend::kKqueue);
  ExpectSysError(Call::kEpollCreate1, 1, EMFILE, "kqueue()",
                 [] { Poll poll(Backend::kKqueue); });
  ExpectSysError(Call::kEventfd, 1, ENFILE, "kqueue()",
                 [] { Poll poll(Backend::kKqueue); });
  // kqueue() first probes earlier kqueues with epoll_ctl (Reap); the ADD of
  // its own eventfd is its last epoll_ctl call.
  int calls;
  {
    FaultPlan count(Call::kEpollCtl, 1000, ENOMEM);
    Poll poll(Backend::kKqueue);
    calls = count.calls();
  }
  ExpectSysError(Call::kEpollCtl, calls, ENOMEM, "kqueue()",
                 [] { Poll poll(Backend::kKqueue); });
}

TEST(PollFaults, CloexecOnNewKqueueFails) {
  WarmUp(Backend::kKqueue);
  // The only error F_GETFD/F_SETFD can give on an fd just opened is EBADF.
  // Nth: the emulation's own fcntl calls may come first, so fail the last one.
  int calls;
  {
    FaultPlan count(Call::kFcntl, 1000, EBADF);
    Poll poll(Backend::kKqueue);
    calls = count.calls();
  }
  ASSERT_GE(calls, 2);
  ExpectSysError(Call::kFcntl, calls, EBADF, "FD_CLOEXEC",
                 [] { Poll poll(Backend::kKqueue); });
}

// --- Waker construction -----------------------------------------------------

TEST(WakerFaults, EventfdFails) {
  for (Backend backend : AvailableBackends()) {
    WarmUp(backend);
    Poll poll(backend);
    for (int err : {EMFILE, ENFILE, ENOMEM, ENODEV}) {
      ExpectSysError(Call::kEventfd, 1, err, "eventfd", [&] {
        Waker waker(poll.registry(), kToken, WakerKind::kEventfd);
      });
    }
    Waker waker(poll.registry(), kToken, WakerKind::kEventfd);
    waker.Wake();
    EXPECT_TRUE(SeesToken(poll, kToken, kDeadline)) << BackendName(backend);
  }
}

TEST(WakerFaults, Pipe2Fails) {
  for (Backend backend : AvailableBackends()) {
    WarmUp(backend);
    Poll poll(backend);
    for (int err : {EMFILE, ENFILE}) {
      ExpectSysError(Call::kPipe2, 1, err, "pipe2", [&] {
        Waker waker(poll.registry(), kToken, WakerKind::kPipe);
      });
    }
    Waker waker(poll.registry(), kToken, WakerKind::kPipe);
    waker.Wake();
    EXPECT_TRUE(SeesToken(poll, kToken, kDeadline)) << BackendName(backend);
  }
}

// Registering the new wake source fails: the source must be closed and its fd
// number must not stay in the Registry's table (a new fd that gets the same
// number must register).
TEST(WakerFaults, RegisterOfWakeSourceFailsOnEpoll) {
  Poll poll(Backend::kEpoll);
  for (WakerKind kind : {WakerKind::kEventfd, WakerKind::kPipe}) {
    for (int err : {ENOMEM, ENOSPC}) {
      int failed_fd = -1;
      const int before = CountOpenFds();
      {
        FaultPlan plan(Call::kEpollCtl, 1, err);
        auto error = SysErrorFrom(
            [&] { Waker waker(poll.registry(), kToken, kind); },
            "epoll_ctl(ADD) failed, so the Waker constructor must throw");
        failed_fd = plan.fired_arg();
        if (error) {
          EXPECT_NE(error->what.find("EPOLL_CTL_ADD"), std::string::npos)
              << error->what;
          EXPECT_NE(error->what.find(ErrnoName(err)), std::string::npos)
              << error->what;
        }
      }
      EXPECT_EQ(CountOpenFds(), before) << WakerKindName(kind);
      const auto raw = RawPipe();
      ASSERT_EQ(raw.first, failed_fd) << "the number was not reused";
      poll.registry().Register(raw.first, kToken, Interest::kReadable);
      poll.registry().Deregister(raw.first);
      EXPECT_EQ(CloseRaw(raw.first) + CloseRaw(raw.second), "");
    }
  }
}

TEST(WakerFaults, KqueueUserDupFails) {
  WarmUp(Backend::kKqueue);
  Poll poll(Backend::kKqueue);
  for (int err : {EMFILE, EINVAL}) {
    ExpectSysError(Call::kFcntl, 1, err, "F_DUPFD_CLOEXEC", [&] {
      Waker waker(poll.registry(), kToken, WakerKind::kKqueueUser);
    });
  }
}

TEST(WakerFaults, KqueueUserAddFails) {
  WarmUp(Backend::kKqueue);
  Poll poll(Backend::kKqueue);
  for (int err : {ENOMEM, EBADF}) {
    ExpectSysError(Call::kKevent, 1, err, "EV_ADD EVFILT_USER", [&] {
      Waker waker(poll.registry(), kToken, WakerKind::kKqueueUser);
    });
  }
  Waker waker(poll.registry(), kToken, WakerKind::kKqueueUser);
  waker.Wake();
  EXPECT_TRUE(SeesToken(poll, kToken, kDeadline));
}

// --- Registry ---------------------------------------------------------------

TEST(RegistryFaults, FailedCallsChangeNothing) {
  for (Backend backend : AvailableBackends()) {
    WarmUp(backend);
    Poll poll(backend);
    const auto raw = RawPipe();
    const Call call =
        backend == Backend::kEpoll ? Call::kEpollCtl : Call::kKevent;
    ExpectSysError(call, 1, ENOMEM, "", [&] {
      poll.registry().Register(raw.first, kToken, Interest::kReadable);
    });
    // Not claimed by the table: registering again works.
    poll.registry().Register(raw.first, kToken, Interest::kReadable);
    ExpectSysError(call, 1, ENOMEM, "", [&] {
      poll.registry().Reregister(raw.first, kToken, Interest::kWritable);
    });
    ExpectSysError(call, 1, ENOMEM, "",
                   [&] { poll.registry().Deregister(raw.first); });
    // Still registered: the write is reported, and Deregister now works.
    ASSERT_EQ(write(raw.second, "x", 1), 1);
    EXPECT_TRUE(SeesToken(poll, kToken, kDeadline)) << BackendName(backend);
    poll.registry().Deregister(raw.first);
    EXPECT_EQ(CloseRaw(raw.first) + CloseRaw(raw.second), "");
  }
}

// --- Poll::Wait
// ---------------------------------------------------------------

TEST(WaitFaults, EintrIsRetried) {
  for (Backend backend : AvailableBackends()) {
    const Call call =
        backend == Backend::kEpoll ? Call::kEpollWait : Call::kKevent;
    for (int nth : {1, 3}) {
      Poll poll(backend);
      Waker waker(poll.registry(), kToken, WakerKind::kPipe);
      Events events(8);
      FaultPlan plan(call, nth, EINTR);
      waker.Wake();
      bool seen = false;
      for (int i = 0; i < 5 && !seen; ++i) {
        poll.Wait(events, std::nullopt);  // EINTR must not end the wait.
        seen = HasToken(events, kToken);
      }
      EXPECT_TRUE(seen) << BackendName(backend) << " nth " << nth;
      EXPECT_EQ(plan.fired(), nth == 1)
          << "one Wait with a wake pending makes one call; nth " << nth;
    }
  }
}

TEST(WaitFaults, EintrInsideTheKqueueEmulationIsRetried) {
  Poll poll(Backend::kKqueue);
  Waker waker(poll.registry(), kToken, WakerKind::kPipe);
  Events events(8);
  FaultPlan plan(Call::kEpollWait, 1, EINTR);
  waker.Wake();
  poll.Wait(events, std::nullopt);
  EXPECT_TRUE(plan.fired());
  EXPECT_TRUE(HasToken(events, kToken));
}

TEST(WaitFaults, OtherErrorsAreReportedAndPollStaysUsable) {
  for (Backend backend : AvailableBackends()) {
    Poll poll(backend);
    Waker waker(poll.registry(), kToken, WakerKind::kPipe);
    Events events(8);
    const Call call =
        backend == Backend::kEpoll ? Call::kEpollWait : Call::kKevent;
    const char* name = backend == Backend::kEpoll ? "epoll_wait" : "kevent(";
    for (int err : {EBADF, EINVAL}) {
      ExpectSysError(call, 1, err, name,
                     [&] { poll.Wait(events, milliseconds(0)); });
    }
    waker.Wake();
    EXPECT_TRUE(SeesToken(poll, kToken, kDeadline)) << BackendName(backend);
  }
}

// --- Wake and Drain
// -----------------------------------------------------------

TEST(WakeFaults, WriteEintrIsRetried) {
  for (Backend backend : AvailableBackends()) {
    for (WakerKind kind : {WakerKind::kEventfd, WakerKind::kPipe}) {
      Poll poll(backend);
      Waker waker(poll.registry(), kToken, kind);
      {
        FaultPlan plan(Call::kWrite, 1, EINTR);
        EXPECT_EQ(waker.Wake(), WakeResult::kWoken);
        EXPECT_TRUE(plan.fired());
      }
      EXPECT_TRUE(SeesToken(poll, kToken, kDeadline)) << WakerKindName(kind);
    }
  }
}

TEST(WakeFaults, WriteErrorIsReported) {
  Poll poll(Backend::kEpoll);
  for (WakerKind kind : {WakerKind::kEventfd, WakerKind::kPipe}) {
    Waker waker(poll.registry(), kToken, kind);
    // EBADF: what write() says if the fd was closed behind the Waker's back.
    ExpectSysError(Call::kWrite, 1, EBADF, "write(", [&] { waker.Wake(); });
    EXPECT_EQ(waker.Wake(), WakeResult::kWoken) << "usable again";
  }
}

// Poll::Wait drains a pipe Waker's source when it reports the token: a read
// that fails with EINTR is retried, another error leaves Wait, and the Waker
// still works afterwards (the next Wake() signals again). The eventfd is never
// read on a drain (loop/wake_eventfd.cc; the next test checks it).
TEST(WakeFaults, DrainReadEintrIsRetriedAndErrorsReported) {
  for (WakerKind kind : {WakerKind::kPipe}) {
    Poll poll(Backend::kEpoll);
    Waker waker(poll.registry(), kToken, kind);
    Events events(8);
    waker.Wake();
    {
      FaultPlan plan(Call::kRead, 1, EINTR);
      poll.Wait(events, kDeadline);
      EXPECT_TRUE(plan.fired()) << WakerKindName(kind);
    }
    waker.Wake();
    ExpectSysError(Call::kRead, 1, EBADF, "read(",
                   [&] { poll.Wait(events, kDeadline); });
    EXPECT_EQ(waker.Wake(), WakeResult::kWoken);
    EXPECT_TRUE(SeesToken(poll, kToken, kDeadline))
        << WakerKindName(kind)
        << ": after a failed drain the next Wake() must be seen";
  }
}

// An eventfd wake is one write and one wait: no read, so a read that would
// fail cannot break a drain.
TEST(WakeFaults, EventfdDrainMakesNoRead) {
  Poll poll(Backend::kEpoll);
  Waker waker(poll.registry(), kToken, WakerKind::kEventfd);
  for (int round = 0; round < 3; ++round) {
    FaultPlan plan(Call::kRead, 1, EBADF);
    waker.Wake();
    EXPECT_TRUE(SeesToken(poll, kToken, kDeadline)) << "round " << round;
    EXPECT_FALSE(plan.fired()) << "the eventfd was read on a drain";
  }
}

// kevent(2) lists EINTR; the kqueue_user Wake() applies NOTE_TRIGGER again
// (lesson 07's KqueueWaker did too), other errors are reported.
TEST(WakeFaults, KqueueUserTriggerEintrIsRetriedAndErrorsReported) {
  Poll poll(Backend::kKqueue);
  Waker waker(poll.registry(), kToken, WakerKind::kKqueueUser);
  ExpectSysError(Call::kKevent, 1, ENOMEM, "NOTE_TRIGGER",
                 [&] { waker.Wake(); });
  {
    FaultPlan plan(Call::kKevent, 1, EINTR);
    EXPECT_EQ(waker.Wake(), WakeResult::kWoken);
    EXPECT_TRUE(plan.fired());
  }
  EXPECT_TRUE(SeesToken(poll, kToken, kDeadline));
}

// EAGAIN from write(eventfd) means the counter is at its maximum: Wake() resets
// it and writes again, so the wake is still seen (the real counter case is
// //tests/contract:counter_max_test).
TEST(WakeFaults, EventfdWriteEagainResetsTheCounterAndWakes) {
  for (Backend backend : AvailableBackends()) {
    Poll poll(backend);
    Waker waker(poll.registry(), kToken, WakerKind::kEventfd);
    {
      FaultPlan plan(Call::kWrite, 1, EAGAIN);
      EXPECT_EQ(waker.Wake(), WakeResult::kWoken);
      EXPECT_TRUE(plan.fired());
    }
    EXPECT_TRUE(SeesToken(poll, kToken, kDeadline)) << BackendName(backend);
  }
}

// --- Destruction
// ----------------------------------------------------------------

TEST(CloseFaults, FailedCloseInDestructorsLeaksNothing) {
  for (Backend backend : AvailableBackends()) {
    for (WakerKind kind : AvailableWakerKinds(backend)) {
      for (int nth : {1, 2}) {
        WarmUp(backend);
        const int before = CountOpenFds();
        {
          Poll poll(backend);
          Waker waker(poll.registry(), kToken, kind);
          waker.Wake();
          FaultPlan plan(Call::kClose, nth, EINTR);
          // ~Waker, then ~Poll (which closes the selector and the source).
        }
        WarmUp(backend);
        EXPECT_EQ(CountOpenFds(), before)
            << WakerKindName(kind) << " on " << BackendName(backend)
            << ": close() call " << nth << " failed with EINTR (on Linux the "
            << "fd is closed anyway); nothing may be left open";
      }
    }
  }
}

}  // namespace
}  // namespace testing
}  // namespace loop
