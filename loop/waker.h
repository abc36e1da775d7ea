// Waker: lets any thread make a Poll that is blocked in Wait() return an event
// with the waker's token.
//
//   Poll poll;
//   Waker waker(poll.registry(), kWakeToken, WakerKind::kEventfd);
//   std::thread worker([handle = waker] { handle.Wake(); });  // a copy
//   poll.Wait(events, std::nullopt);  // returns with an event for kWakeToken
//   // ... then pick up what the worker left. Nothing to drain: Wait did it.
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
// Ownership (shared, like lesson 08's Arc):
//   The wake source (the eventfd, the pipe, or a duplicate of the Poll's
//   kqueue descriptor) lives in one WakeSource object, which every Waker handle
//   and the Poll itself own together through an Arc<WakeSource>. The Poll's
//   share is kept by Registry::Retain until the Poll is destroyed. The
//   descriptors are closed when the last owner goes, so:
//   - dropping every handle never loses a wake: the Poll still owns the
//     source, which stays registered with its readiness pending;
//   - a handle that outlives the Poll keeps its descriptors open, so their
//     numbers cannot be reused by other files, and Wake() returns kPollGone
//     without signalling anything.
//   Nothing is deregistered, closed or deleted by hand: the registration ends
//   with the Poll. Make one Waker per token per Poll and copy it: each
//   constructor adds a source that the Poll keeps until it is destroyed.
//
// Coalescing (lesson 10): the source carries a "wake pending" flag. The Wake()
// that sets it signals the kernel; every Wake() after it makes no system call
// at all, until the Poll reports the token. Poll::Wait then drains the source
// and clears the flag itself, before it returns (Registry::OnReport), so the
// contract is mio's: wake, and the Poll reports the token; nobody drains by
// hand. The draining code, and why it reads first and clears second, is in
// loop/waker.cc; each kind's system calls are in loop/wake_<kind>.cc.
//
// Thread safety: Wake() may be called from any thread, at the same time, on one
// Waker or on its copies, also while another thread is in Poll::Wait. Copying,
// assigning and destroying one Waker *object* must not race with other uses of
// that same object.
#ifndef LOOP_WAKER_H_
#define LOOP_WAKER_H_

#include <functional>
#include <vector>

#include "loop/arc.h"
#include "loop/registry.h"
#include "loop/wake_kind.h"

namespace loop {

namespace internal {
class WakeSource;  // wake_source.h: the descriptors and the two flags.
}  // namespace internal

class Waker {
 public:
  // Creates a wake source of `kind` and registers it with `registry` for
  // `token`. Throws std::invalid_argument when `kind` does not work on the
  // registry's backend (see AvailableWakerKinds), SysError when the kernel
  // refuses.
  Waker(Registry& registry, Token token, WakerKind kind);

  // Another handle for the same wake source: one more owner of it.
  Waker(const Waker& other);
  Waker& operator=(const Waker& other);
  // Hands this handle over; `other` is left empty (Wake() on it throws).
  Waker(Waker&& other) noexcept;
  Waker& operator=(Waker&& other) noexcept;
  // Gives up this handle's share; the last owner (handle or Poll) closes the
  // source.
  ~Waker();

  // Makes the Poll report this Waker's token (readable) from its next or
  // current Wait(). Wakes that arrive before that Wait() has reported the token
  // are coalesced into one event, and only the first of them makes a system
  // call. Once the
  // Poll has been destroyed, returns kPollGone and signals nothing. Throws
  // SysError if the kernel refuses, std::logic_error on a moved-from Waker.
  WakeResult Wake() const;

  Token token() const { return token_; }
  WakerKind kind() const { return kind_; }

 private:
  Token token_;
  WakerKind kind_ = WakerKind::kPipe;
  Arc<internal::WakeSource> source_;  // Empty only in a moved-from Waker.
};

// For tests only: `hook` runs inside every drain that Poll::Wait does for a
// Waker's token, on the polling thread, just before the wake source is read.
// It lets a test play "another thread calls Wake() in the middle of the
// drain" exactly, on one thread. Set it while
// no Poll::Wait runs; an empty function removes it.
void SetDrainHookForTesting(std::function<void()> hook);

}  // namespace loop

#endif  // LOOP_WAKER_H_
