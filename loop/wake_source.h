// WakeSource: the part of a Waker that every Waker handle and the Poll own
// together (through Arc<WakeSource>; see loop/waker.h), and the one place where
// a wake source's "wake pending" flag lives. Internal to the library.
//
// The system calls are a WakeMechanism's, one file per kind:
//   wake_eventfd.cc      an eventfd registered for reading
//   wake_pipe.cc         a non-blocking pipe whose read end is registered
//   wake_kqueue_user.cc  an EVFILT_USER event in the Poll's kqueue
// The WakeSource decides when they are needed (loop/waker.cc, lesson 10): a
// Wake() while a wake is pending makes no system call, and the Poll drains the
// source when it reports the token (Registry::OnReport), before Wait returns.
//
// Thread safety: Wake() from any thread at any time; Drain() on the thread in
// Poll::Wait; PollGone() once, from the Poll's destructor.
#ifndef LOOP_WAKE_SOURCE_H_
#define LOOP_WAKE_SOURCE_H_

#include <atomic>
#include <memory>
#include <utility>

#include "loop/registry.h"
#include "loop/waker.h"

namespace loop {
namespace internal {

// The system calls of one kind of wake source. It owns its descriptors
// outright, so that none can be closed and its number reused while a Wake()
// may still write to it.
class WakeMechanism {
 public:
  virtual ~WakeMechanism() = default;
  // Makes the Poll report the token: one write or one NOTE_TRIGGER. Any thread.
  // Throws SysError.
  virtual void Signal() = 0;
  // Makes sure that the next Signal() is reported anew: the pipe reads itself
  // empty; the eventfd (every write is a new edge) and EVFILT_USER (EV_CLEAR)
  // need no system call. Never blocks. On the polling thread. Throws SysError.
  virtual void Consume() = 0;
};

// Each creates its source and registers it with `registry` for `token`, or
// throws SysError with nothing left open.
std::unique_ptr<WakeMechanism> MakeEventfdWake(Registry& registry, Token token);
std::unique_ptr<WakeMechanism> MakePipeWake(Registry& registry, Token token);
std::unique_ptr<WakeMechanism> MakeKqueueUserWake(Registry& registry,
                                                  Token token);

class WakeSource {
 public:
  explicit WakeSource(std::unique_ptr<WakeMechanism> mechanism)
      : mechanism_(std::move(mechanism)) {}

  WakeSource(const WakeSource&) = delete;
  WakeSource& operator=(const WakeSource&) = delete;

  // Waker::Wake(): signals the source unless a wake is already pending
  // (loop/waker.cc).
  WakeResult Wake() const;
  // The Poll reported the token: empty the source, then clear the pending flag
  // (loop/waker.cc).
  void Drain() const;

  // The Poll is being destroyed: from now on there is nobody to wake.
  void PollGone() noexcept {
    poll_alive_.store(false, std::memory_order_release);
  }

 private:
  bool poll_alive() const {
    return poll_alive_.load(std::memory_order_acquire);
  }
  // The system call half of Wake(): the mechanism's Signal(). If the kernel
  // refuses, clears the pending flag (so that the next Wake() tries again) and
  // throws SysError.
  void Signal() const;
  // The system call half of Drain(): runs the SetDrainHookForTesting hook,
  // then the mechanism's Consume(). If the kernel refuses, clears the pending
  // flag (so that the next Wake() signals again) and throws SysError.
  void ConsumeSource() const;

  const std::unique_ptr<WakeMechanism> mechanism_;
  std::atomic<bool> poll_alive_{true};
  // True from the Wake() that signalled the source until Drain() has consumed
  // it: while it is set, the Poll is sure to report the token, so a Wake() need
  // not signal again. mutable: Wake() and Drain() are const, like the Waker's.
  mutable std::atomic<bool> pending_{false};
};

}  // namespace internal
}  // namespace loop

#endif  // LOOP_WAKE_SOURCE_H_
