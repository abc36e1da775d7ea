// Kqueue: a thin owner of one kqueue descriptor (macOS, the BSDs; on Linux the
// same code runs on the emulation in loop/port, see
// docs/kqueue-emulation.md).
//
// It adds only what raw kevent() makes easy to get wrong: the descriptor is
// closed once and is close-on-exec, a change that fails is an exception naming
// the change and the errno, and Wait survives signals. Everything else is plain
// <sys/event.h>: build changes with EV_SET and read the struct kevent results
// yourself.
//
// Thread safety: Apply and Wait may be called from any thread, also at the same
// time (the kernel serializes kevent calls on one queue). Moving or destroying
// a Kqueue must not race with calls on it.
#ifndef LOOP_KQUEUE_H_
#define LOOP_KQUEUE_H_

// <sys/event.h> does not include what its types need on older BSDs.
// clang-format off
#include <sys/types.h>
#include <sys/event.h>
// clang-format on

#include <string>
#include <utility>

#include "loop/fd.h"

namespace loop {

class Kqueue {
 public:
  // A new kqueue, close-on-exec. Throws SysError.
  static Kqueue Create();

  // Submits a changelist of `n` changes (EV_ADD, EV_DELETE, EV_ENABLE, ...).
  // Each change is sent with EV_RECEIPT, so the kernel reports every change's
  // own result and no pending event is consumed. All changes are attempted; if
  // any failed, throws SysError for the first failure, naming its ident, filter
  // and errno, e.g.
  //   kevent(ident 9, EVFILT_READ, EV_DELETE) failed: ENOENT (No such file...)
  // A failure whose errno equals `tolerated_errno` (say ENOENT when deleting a
  // filter that may not be registered) is not an error.
  void Apply(const struct kevent* changes, int n, int tolerated_errno = 0);

  // Waits up to `timeout_ms` (-1: forever, 0: just look) for events and stores
  // at most `max_events` of them in `events`. Returns how many (0: timed out).
  // A signal does not cut the wait short: it is retried with the time that
  // remains. Throws SysError.
  int Wait(struct kevent* events, int max_events, int timeout_ms);

  int fd() const { return fd_.get(); }

 private:
  explicit Kqueue(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

// "EVFILT_READ", "EVFILT_WRITE", "EVFILT_USER", ... or "filter -N".
std::string FilterName(int filter);

// The flags of a struct kevent as text: "EV_ADD|EV_CLEAR".
std::string KeventFlagsName(unsigned flags);

// One struct kevent as text, for error messages and test failures:
//   kevent{ident 9, EVFILT_READ, EV_ADD|EV_CLEAR, fflags 0, data 5, udata 0x2a}
std::string DescribeKevent(const struct kevent& kev);

}  // namespace loop

#endif  // LOOP_KQUEUE_H_
