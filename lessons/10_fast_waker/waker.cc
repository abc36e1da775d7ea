// The fast path of the Waker (lesson 10): a wake while one is pending makes no
// system call. The rest of the Waker is given: loop/wake_source.h (the
// WakeSource and its two flags), loop/wake_source.cc (handles, the Poll's
// share) and one file per kind (loop/wake_eventfd.cc, ...).
#include "loop/wake_source.h"

namespace loop {
namespace internal {

WakeResult WakeSource::Wake() const {
  // Once the Poll is gone there is nothing to wake. The check cannot make us
  // touch a foreign file: if the Poll goes right after it, we signal our own
  // descriptor, which nobody watches any more. That is harmless, and kWoken was
  // true when we started.
  if (!poll_alive()) return WakeResult::kPollGone;
  // TODO(lesson 10): Step 1. If a wake is already pending, the Poll is going
  // to report it: return kWoken without a system call. Set pending_ and learn
  // what it held in ONE atomic step (exchange), or two threads can both see
  // it clear and both signal. Which memory order? README.md, "Memory orders".
  Signal();
  return WakeResult::kWoken;
}

// Poll::Wait calls this when it reports the Waker's token, before it returns.
void WakeSource::Drain() const {
  // TODO(lesson 10): Step 2. Clear pending_ here, so that the next Wake()
  // signals the source again; without it, every wake after the first is
  // skipped. Where, before or after ConsumeSource()? One order loses wakes:
  // README.md, Step 2, has the timeline.
  ConsumeSource();
}

}  // namespace internal
}  // namespace loop
