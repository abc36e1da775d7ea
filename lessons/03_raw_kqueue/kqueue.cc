// Lesson 03: write Kqueue::Create, Apply and Wait. Read
// lessons/03_raw_kqueue/README.md first; kqueue.h says what each one promises.
#include "loop/kqueue.h"

#include <fcntl.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "lessons/todo.h"
#include "loop/sys_error.h"

namespace loop {

Kqueue Kqueue::Create() {
  LOOP_TODO(
      "03", "03_raw_kqueue",
      "Kqueue::Create: kqueue(), then set FD_CLOEXEC with fcntl (kqueue() "
      "has no flag for it); throw SysError on -1");
}

void Kqueue::Apply(const struct kevent* /*changes*/, int /*n*/,
                   int /*tolerated_errno*/) {
  LOOP_TODO(
      "03", "03_raw_kqueue",
      "Kqueue::Apply: copy the changes, add EV_RECEIPT to each, call "
      "kevent() with the copy as both changelist and eventlist and a zero "
      "timeout, then throw SysError for the first receipt whose data is an "
      "errno other than tolerated_errno");
}

int Kqueue::Wait(struct kevent* /*events*/, int /*max_events*/,
                 int /*timeout_ms*/) {
  LOOP_TODO(
      "03", "03_raw_kqueue",
      "Kqueue::Wait: kevent(fd, nullptr, 0, events, max_events, timeout) "
      "with a null timespec for -1; on EINTR wait again for the time that "
      "remains");
}

// Done for you: names for filters and flags, used by the error messages and the
// tests.

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
