// Waker: lets any thread make a Poll that is blocked in Wait() return an event
// with the waker's token.
//
//   Poll poll;
//   Waker waker(poll.registry(), kWakeToken, WakerKind::kEventfd);
//   std::thread worker([handle = waker] { handle.Wake(); });  // a copy
//   poll.Wait(events, std::nullopt);  // returns with an event for kWakeToken
//   waker.Drain();  // then pick up what the worker left for you
//
// One class, three wake sources (the ones lessons 06 and 07 built):
//   kEventfd     an eventfd registered for reading; Wake() adds 1 to its
//                counter. Linux only (epoll backend and kqueue emulation).
//   kKqueueUser  an EVFILT_USER event in the Poll's kqueue, ident = the token's
//                value; Wake() triggers it with NOTE_TRIGGER. Needs
//                Backend::kKqueue.
//   kPipe        a non-blocking pipe whose read end is registered; Wake()
//                writes one byte.
//
// Ownership (the design of lessons 06 and 07: RAII, like lesson 01's Fd):
//   The Waker made by the constructor owns its wake source. Its destructor
//   deregisters and closes the eventfd or the pipe (lesson 05: deregister
//   before closing), or deletes the kqueue user event, so nothing ever leaks.
//   A copy is a handle for another thread. It uses the same descriptor number
//   but does not own it, so the source is still released exactly once (two
//   owners closing one fd number would be lesson 01's double close). The
//   kqueue_user kind uses the Poll's kqueue descriptor, which the Poll owns.
//   The rule that follows: the creating Waker and the Poll must outlive every
//   copy and every Wake().
//
// Thread safety: Wake() may be called from any thread, at the same time, on one
// Waker or on its copies. Drain() belongs to the thread that polls. Copying,
// assigning and destroying one Waker *object* must not race with other uses of
// that same object.
//
// TODO(lesson 09): the tests in early_drop_test.cc break the rule above the way
// real programs do; lessons/09_early_drop/README.md shows what then happens.
#ifndef LESSONS_09_EARLY_DROP_WAKER_H_
#define LESSONS_09_EARLY_DROP_WAKER_H_

#include <vector>

#include "loop/fd.h"
#include "loop/registry.h"
#include "loop/wake_kind.h"

namespace loop {

class Waker {
 public:
  // Creates a wake source of `kind` and registers it with `registry` for
  // `token`. Throws std::invalid_argument when `kind` does not work on the
  // registry's backend (see AvailableWakerKinds), SysError when the kernel
  // refuses.
  Waker(Registry& registry, Token token, WakerKind kind);

  // Another handle for the same wake source (it borrows the descriptor; see
  // above).
  Waker(const Waker& other);
  Waker& operator=(const Waker& other);
  // Hands this handle over; `other` is left empty (Wake() on it throws).
  Waker(Waker&& other) noexcept;
  Waker& operator=(Waker&& other) noexcept;
  // The creating Waker releases the wake source here.
  ~Waker();

  // Makes the Poll report this Waker's token (readable) from its next or
  // current Wait(). Wakes that arrive before the loop looks are coalesced into
  // one event. Throws SysError if the kernel refuses, std::logic_error on a
  // moved-from Waker.
  WakeResult Wake() const;

  // Consumes pending wakes so that the source starts empty again; call it on
  // the polling thread after Wait() reported the token. Never blocks. Throws
  // SysError.
  void Drain() const;

  Token token() const { return token_; }
  WakerKind kind() const { return kind_; }

 private:
  void Release() noexcept;

  Token token_;
  WakerKind kind_ = WakerKind::kPipe;
  // The descriptor Wake() signals: the eventfd, the pipe's write end, or the
  // Poll's kqueue. Copies hold the same number.
  int wake_fd_ = -1;
  // The descriptor Drain() reads: the eventfd or the pipe's read end (-1 for
  // kqueue_user, whose EV_CLEAR event resets itself when reported).
  int drain_fd_ = -1;
  // Only in the creating Waker: the Registry it deregisters from (not owned:
  // the Poll outlives its Wakers), the eventfd or pipe ends it closes when
  // destroyed, or, for kqueue_user, that it must delete its event.
  Registry* registry_ = nullptr;
  Fd owned_read_;
  Fd owned_write_;
  bool owns_user_event_ = false;
};

}  // namespace loop

#endif  // LESSONS_09_EARLY_DROP_WAKER_H_
