// KqueueWaker: lets any thread make a blocked Poll::Wait return, with no
// descriptor of its own (kqueue Polls only: macOS, the BSDs, and Linux through
// loop/port).
//
//   thread A                         the Poll's kqueue      loop thread
//   waker.Wake()
//     kevent(EVFILT_USER, --------> user event       --->  poll.Wait() returns
//            NOTE_TRIGGER)          triggered              an Event with the
//                                                          token
//
// The waker adds one EVFILT_USER event to the Poll's kqueue
// (registry.selector_fd()) with EV_CLEAR, the token in udata, and its own
// address as ident (unique among the live wakers on that kqueue). EVFILT_USER
// is not tied to any fd: it exists only in the kqueue. Wake() triggers it; the
// kqueue reports it once and EV_CLEAR resets it, so there is nothing for the
// loop to drain, and wakes before a poll coalesce.
//
// Ownership: the user event lives in a kqueue the Poll owns; the waker only
// refers to it and to the Registry, both of which must outlive the waker. The
// destructor deletes the user event (EV_DELETE). Lesson 09 shows what this
// costs: the delete drops a wake the loop has not seen yet, and a waker that
// outlives its Poll triggers an event in whatever kqueue now has that fd
// number.
//
// Thread safety: Wake() may be called from any thread at the same time (each
// call is one kevent() on the kqueue, which the kernel serializes).
// Construction and destruction must not race with Wake().
#ifndef LESSONS_07_KQUEUE_PIPE_WAKER_KQUEUE_WAKER_H_
#define LESSONS_07_KQUEUE_PIPE_WAKER_KQUEUE_WAKER_H_

#include <cstdint>

#include "loop/registry.h"

namespace loop {

class KqueueWaker {
 public:
  // Adds the user event to registry's kqueue. Throws std::invalid_argument
  // unless registry.backend() is Backend::kKqueue, SysError if kevent() fails.
  KqueueWaker(Registry& registry, Token token);
  // Deletes the user event (EV_DELETE). A failure is reported on stderr
  // (destructors cannot throw). A wake not yet seen by the loop is lost: see
  // lesson 09.
  ~KqueueWaker();

  KqueueWaker(const KqueueWaker&) = delete;
  KqueueWaker& operator=(const KqueueWaker&) = delete;

  // Triggers the user event (NOTE_TRIGGER): the loop sees one event with this
  // waker's token, however many wakes came before it looked. Throws SysError.
  void Wake();

 private:
  int kqueue_fd_;         // registry.selector_fd(); not owned.
  std::uintptr_t ident_;  // Names this waker's user event in that kqueue.
  Token token_;           // Sent with every change: a change also sets udata.
};

}  // namespace loop

#endif  // LESSONS_07_KQUEUE_PIPE_WAKER_KQUEUE_WAKER_H_
