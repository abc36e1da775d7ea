// EventfdWaker: lets any thread make a blocked Poll::Wait return (Linux only).
//
//   thread A                   eventfd counter        loop thread
//   waker.Wake() --write(1)--> 0 -> 1, readable -->   poll.Wait() returns an
//                                                     Event with the token
//
// The waker owns one eventfd (close-on-exec, non-blocking) and registers it
// with the Registry for reading under the Token it was given. Registrations are
// edge-triggered, and every write to an eventfd re-queues an edge-triggered
// waiter, so a loop that only polls never has to read the counter: each Wake()
// after the loop consumed an event produces a new one, and wakes that land
// before a poll coalesce into one event. A loop that watches the eventfd
// level-triggered (poll(2), epoll without EPOLLET) must call Drain() after each
// event instead, or it sees the same readiness forever.
//
// Ownership: the waker owns its eventfd uniquely (an Fd member) and refers to
// the Registry, which must outlive it. The destructor deregisters and closes
// the eventfd. Lesson 09 shows what this costs: a wake written just before the
// destructor runs is lost, and a waker that outlives its Poll calls into a dead
// Registry.
//
// Thread safety: Wake() and Drain() may be called from any thread at the same
// time (each is one read or write on the eventfd). Construction and destruction
// must not race with them.
#ifndef LESSONS_06_EVENTFD_WAKER_EVENTFD_WAKER_H_
#define LESSONS_06_EVENTFD_WAKER_EVENTFD_WAKER_H_

#if defined(__linux__)

#include "loop/fd.h"
#include "loop/registry.h"

namespace loop {

class EventfdWaker {
 public:
  // Creates the eventfd (EFD_CLOEXEC | EFD_NONBLOCK) and registers it with
  // `registry` for reading under `token`. Throws SysError; nothing is left open
  // on failure.
  EventfdWaker(Registry& registry, Token token);
  // Deregisters and closes the eventfd. A failure is reported on stderr
  // (destructors cannot throw). A wake not yet seen by the loop is lost: see
  // lesson 09.
  ~EventfdWaker();

  EventfdWaker(const EventfdWaker&) = delete;
  EventfdWaker& operator=(const EventfdWaker&) = delete;

  // Makes the loop see an event with this waker's token: adds 1 to the counter.
  // If the counter is at its maximum (0xfffffffffffffffe, where writes fail
  // with EAGAIN), it is reset by Drain() and the write repeated, so a wake is
  // never refused. Throws SysError.
  void Wake();

  // Reads the counter back to zero, so the eventfd stops being readable. Only a
  // loop that watches the eventfd level-triggered needs this. Returns at once
  // when no wake is pending. Throws SysError.
  void Drain();

  // The eventfd, for tests that poke at the counter directly. Not for
  // production use.
  int fd_for_testing() const { return fd_.get(); }

 private:
  Registry& registry_;
  Fd fd_;
};

}  // namespace loop

#endif  // defined(__linux__)

#endif  // LESSONS_06_EVENTFD_WAKER_EVENTFD_WAKER_H_
