// The fast path of the Waker (lesson 10): a wake while one is pending makes no
// system call. The rest of the Waker is in wake_source.cc, and each kind's
// system calls in wake_eventfd.cc, wake_pipe.cc and wake_kqueue_user.cc.
#include "loop/wake_source.h"

namespace loop {
namespace internal {

WakeResult WakeSource::Wake() const {
  // Once the Poll is gone there is nothing to wake. The check cannot make us
  // touch a foreign file: if the Poll goes right after it, we signal our own
  // descriptor, which nobody watches any more. That is harmless, and kWoken was
  // true when we started.
  if (!poll_alive()) return WakeResult::kPollGone;
  // A wake is already pending: the Poll will report the token and drain the
  // source, and the loop then does the work we queued before calling Wake().
  // release: that work must be visible to the Drain() whose exchange reads our
  // `true`. (acquire is not needed here; acq_rel keeps the two halves of the
  // handshake alike, and on x86 every exchange is a full barrier anyway.)
  if (pending_.exchange(true, std::memory_order_acq_rel)) {
    return WakeResult::kWoken;
  }
  Signal();
  return WakeResult::kWoken;
}

// Poll::Wait calls this when it reports the Waker's token, before it returns.
void WakeSource::Drain() const {
  // First empty the source, then clear the flag. The other order loses wakes:
  // a Wake() between the clear and the read would signal, the read would
  // consume that signal, and the flag would stay set with nothing in the kernel
  // (tests/design/pending_flag_order_test.cc). In this order a Wake() between
  // the read and the clear signals nothing, but its work is already queued and
  // the loop does it after Wait() returns, in this turn. acquire: see that
  // work.
  ConsumeSource();
  pending_.exchange(false, std::memory_order_acq_rel);
}

}  // namespace internal
}  // namespace loop
