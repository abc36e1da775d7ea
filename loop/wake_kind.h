// The kinds of wake source a Waker can use, and what Wake() reports. Shared by
// the finished Waker (loop/waker.h) and lesson 09's Waker, which differ in how
// they own the source, not in what kinds there are. Pure functions;
// thread-safe.
#ifndef LOOP_WAKE_KIND_H_
#define LOOP_WAKE_KIND_H_

#include <vector>

#include "loop/selector.h"

namespace loop {

// kEventfd     an eventfd registered for reading. Linux only (epoll backend
//              and kqueue emulation).
// kKqueueUser  an EVFILT_USER event in the Poll's kqueue. Needs
//              Backend::kKqueue.
// kPipe        a non-blocking pipe whose read end is registered. Any backend.
enum class WakerKind { kEventfd, kKqueueUser, kPipe };

// "eventfd", "kqueue_user", "pipe".
const char* WakerKindName(WakerKind kind);

// The kinds that work on `backend` on this system: on Linux, epoll: {kEventfd,
// kPipe} and kqueue: {kEventfd, kKqueueUser, kPipe}; on macOS/BSD, kqueue:
// {kKqueueUser, kPipe}.
std::vector<WakerKind> AvailableWakerKinds(Backend backend);

// Throws std::invalid_argument, naming both, when `kind` does not work on
// `backend` here (see AvailableWakerKinds).
void CheckWakerKindFits(WakerKind kind, Backend backend);

// What Wake() did.
enum class WakeResult {
  kWoken,     // the wake source was signalled; the Poll will report the token
  kPollGone,  // the Poll is gone: nothing was signalled, nothing touched
};

// "kWoken", "kPollGone".
const char* WakeResultName(WakeResult result);

}  // namespace loop

#endif  // LOOP_WAKE_KIND_H_
