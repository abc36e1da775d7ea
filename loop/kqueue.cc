#include "loop/kqueue.h"

#include <fcntl.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "loop/sys_error.h"

namespace loop {
namespace {

using Clock = std::chrono::steady_clock;

timespec ToTimespec(Clock::duration d) {
  if (d < Clock::duration::zero()) d = Clock::duration::zero();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(d);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(secs.count());
  ts.tv_nsec = static_cast<long>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(d - secs).count());
  return ts;
}

}  // namespace

Kqueue Kqueue::Create() {
  Fd fd(static_cast<int>(CheckSys(kqueue(), "kqueue()")));
  // kqueue() has no CLOEXEC flag (FreeBSD's kqueuex() and NetBSD's kqueue1()
  // are not portable), so set it here. A real kqueue is not inherited across
  // fork() anyway, but without FD_CLOEXEC it would survive an exec() from a
  // thread that forks.
  const int flags = static_cast<int>(
      CheckSys(fcntl(fd.get(), F_GETFD), "fcntl(F_GETFD) on the new kqueue"));
  CheckSys(fcntl(fd.get(), F_SETFD, flags | FD_CLOEXEC),
           "fcntl(F_SETFD, FD_CLOEXEC) on the new kqueue");
  return Kqueue(std::move(fd));
}

void Kqueue::Apply(const struct kevent* changes, int n, int tolerated_errno) {
  if (n <= 0) return;
  // One receipt per change, written back in place; the zero timeout makes the
  // call return as soon as the changes are done, even if the kernel had room to
  // wait.
  std::vector<struct kevent> list(changes, changes + n);
  for (struct kevent& change : list) change.flags |= EV_RECEIPT;
  const timespec no_wait{};
  const int got = static_cast<int>(
      CheckSys(kevent(fd_.get(), list.data(), n, list.data(), n, &no_wait),
               "kevent(" + std::to_string(n) + " changes)"));
  // With EV_RECEIPT every entry returned is a receipt: EV_ERROR set, data = 0
  // for success or the errno of that change. They come back in changelist
  // order, but find the failing change by (ident, filter) rather than trust the
  // index.
  for (int i = 0; i < got; ++i) {
    const struct kevent& receipt = list[i];
    if ((receipt.flags & EV_ERROR) == 0 || receipt.data == 0) continue;
    const int err = static_cast<int>(receipt.data);
    if (err == tolerated_errno) continue;
    unsigned action = 0;
    for (int j = 0; j < n; ++j) {
      if (changes[j].ident == receipt.ident &&
          changes[j].filter == receipt.filter) {
        action = changes[j].flags;
        break;
      }
    }
    throw SysError("kevent(ident " + std::to_string(receipt.ident) + ", " +
                       FilterName(receipt.filter) + ", " +
                       KeventFlagsName(action) + ")",
                   err);
  }
}

int Kqueue::Wait(struct kevent* events, int max_events, int timeout_ms) {
  const bool forever = timeout_ms < 0;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(forever ? 0 : timeout_ms);
  for (;;) {
    // Whole milliseconds, rounded up: a wait never ends before the deadline
    // because of rounding, and a sub-millisecond remainder never becomes a busy
    // zero wait.
    const timespec remaining = ToTimespec(
        std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
    const int got = kevent(fd_.get(), nullptr, 0, events, max_events,
                           forever ? nullptr : &remaining);
    if (got > 0) return got;
    if (got == 0) {
      if (forever || Clock::now() >= deadline) return 0;
      continue;  // Woke up early (timer rounding): wait out the rest.
    }
    // A signal handler ran; the wait is not over. The remaining time is
    // computed from the clock, so a storm of signals cannot stretch it.
    if (errno == EINTR) continue;
    throw SysError("kevent(wait for up to " + std::to_string(max_events) +
                       " events, timeout " + std::to_string(timeout_ms) +
                       " ms)",
                   errno);
  }
}

std::string FilterName(int filter) {
  switch (filter) {
    case EVFILT_READ:
      return "EVFILT_READ";
    case EVFILT_WRITE:
      return "EVFILT_WRITE";
    case EVFILT_USER:
      return "EVFILT_USER";
#ifdef EVFILT_TIMER
    case EVFILT_TIMER:
      return "EVFILT_TIMER";
#endif
#ifdef EVFILT_SIGNAL
    case EVFILT_SIGNAL:
      return "EVFILT_SIGNAL";
#endif
    default:
      return "filter " + std::to_string(filter);
  }
}

std::string KeventFlagsName(unsigned flags) {
  static const struct {
    unsigned bit;
    const char* name;
  } kNames[] = {
      {EV_ADD, "EV_ADD"},         {EV_DELETE, "EV_DELETE"},
      {EV_ENABLE, "EV_ENABLE"},   {EV_DISABLE, "EV_DISABLE"},
      {EV_ONESHOT, "EV_ONESHOT"}, {EV_CLEAR, "EV_CLEAR"},
      {EV_RECEIPT, "EV_RECEIPT"}, {EV_DISPATCH, "EV_DISPATCH"},
      {EV_EOF, "EV_EOF"},         {EV_ERROR, "EV_ERROR"},
  };
  std::string out;
  for (const auto& entry : kNames) {
    if ((flags & entry.bit) == 0) continue;
    if (!out.empty()) out += "|";
    out += entry.name;
    flags &= ~entry.bit;
  }
  if (flags != 0) {
    std::ostringstream rest;
    rest << std::hex << "0x" << flags;
    if (!out.empty()) out += "|";
    out += rest.str();
  }
  return out.empty() ? "0" : out;
}

std::string DescribeKevent(const struct kevent& kev) {
  std::ostringstream out;
  out << "kevent{ident " << kev.ident << ", " << FilterName(kev.filter) << ", "
      << KeventFlagsName(kev.flags) << ", fflags " << kev.fflags << ", data "
      << kev.data << ", udata " << kev.udata << "}";
  return out.str();
}

}  // namespace loop
