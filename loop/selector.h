// Selector: one readiness backend (epoll or kqueue) behind one small interface.
//
//   Poll (lesson 05) ──owns──> Selector ──is one of──> EpollSelector  (Linux)
//                                                  └─> KqueueSelector (kqueue)
//
// The contract every selector keeps (lessons/04_poll/README.md):
//   - registrations are edge-triggered: a source is reported again only after
//     new readiness arrives, so consumers read or write until EAGAIN;
//   - events are hints: a spurious or duplicate event is allowed, a missing one
//     is not;
//   - Select blocks until at least one event or the timeout (nullopt =
//     forever), retrying EINTR, and never spins.
// The selector does not remember what is registered: it passes each call
// straight to the kernel, so each backend's native errors show through (lesson
// 05's Registry makes them uniform).
//
// Thread safety: Register, Reregister and Deregister may be called from any
// thread, also while another thread is blocked in Select (the kernel calls are
// thread-safe and the selector keeps no state of its own about registrations).
// Select is called by one thread at a time.
#ifndef LOOP_SELECTOR_H_
#define LOOP_SELECTOR_H_

#include <chrono>
#include <memory>
#include <optional>
#include <ostream>
#include <vector>

#include "loop/event.h"

namespace loop {

enum class Backend { kEpoll, kKqueue };

// The backends built on this OS: Linux {kEpoll, kKqueue} (kqueue through the
// emulation in loop/port), macOS and the BSDs {kKqueue}.
std::vector<Backend> AvailableBackends();

// kEpoll on Linux, kKqueue elsewhere.
Backend DefaultBackend();

// "epoll" or "kqueue".
const char* BackendName(Backend backend);
std::ostream& operator<<(std::ostream& os, Backend backend);

class Selector {
 public:
  virtual ~Selector() = default;
  Selector(const Selector&) = delete;
  Selector& operator=(const Selector&) = delete;

  // Starts watching `fd` for `interest`; events for it carry `token`. The fd
  // stays owned by the caller, who must Deregister it (or close it) before it
  // is reused. Errors are the backend's own: epoll says EEXIST for an fd
  // registered twice, kqueue silently updates the existing registration. Throws
  // SysError.
  virtual void Register(int fd, Token token, Interest interest) = 0;

  // Replaces the token and interest of a registered fd. Throws SysError (epoll:
  // ENOENT if `fd` is not registered).
  virtual void Reregister(int fd, Token token, Interest interest) = 0;

  // Stops watching `fd`. Throws SysError (epoll: ENOENT if `fd` is not
  // registered).
  virtual void Deregister(int fd) = 0;

  // Clears `events`, then blocks until at least one registered source is ready
  // or `timeout` passes (nullopt: no limit; zero: just look) and fills `events`
  // with up to events.capacity() reports. Returns with `events` empty on
  // timeout. Retries EINTR with the remaining time. Throws SysError.
  virtual void Select(Events& events,
                      std::optional<std::chrono::milliseconds> timeout) = 0;

  virtual Backend backend() const = 0;

  // The epoll or kqueue descriptor (close-on-exec), valid as long as the
  // selector.
  virtual int fd() const = 0;

 protected:
  Selector() = default;
};

// A new selector of the given backend. Throws std::invalid_argument naming the
// backend when it is not built on this OS (epoll outside Linux).
std::unique_ptr<Selector> MakeSelector(Backend backend);

// For selectors: a Select timeout as the int milliseconds epoll_wait and
// Kqueue::Wait take. nullopt -> -1 (forever); negative -> 0; longer than
// INT_MAX ms -> INT_MAX.
int TimeoutMillis(std::optional<std::chrono::milliseconds> timeout);

}  // namespace loop

#endif  // LOOP_SELECTOR_H_
