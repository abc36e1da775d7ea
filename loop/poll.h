// Poll: the event loop's waiting point.
//
//   Poll ──owns──> Selector (epoll or kqueue fd)
//     └──owns──> Registry ──uses──> Selector
//
// One thread waits in Wait(); any thread registers sources through registry().
// This is mio's split: the waiting needs one owner, registering does not.
//
// Ownership: a Poll owns its selector fd and its Registry; Registry& and
// Registry::selector_fd() stay valid until the Poll is destroyed, which is why
// a Poll can be neither copied nor moved. Destroying it closes the selector fd,
// then releases what was given to Registry::Retain.
//
// Thread safety: Wait is called by one thread at a time. registry() and
// backend() may be called from any thread, also while another thread is
// blocked in Wait.
#ifndef LOOP_POLL_H_
#define LOOP_POLL_H_

#include <chrono>
#include <memory>
#include <optional>

#include "loop/event.h"
#include "loop/registry.h"
#include "loop/selector.h"

namespace loop {

class Poll {
 public:
  // Opens a selector of `backend`. Throws SysError, or std::invalid_argument
  // for a backend not built on this OS.
  explicit Poll(Backend backend = DefaultBackend());
  ~Poll();

  Poll(const Poll&) = delete;
  Poll& operator=(const Poll&) = delete;

  Registry& registry() { return registry_; }
  Backend backend() const;

  // Clears `events`, then blocks until at least one registered source is
  // ready or `timeout` passes (nullopt: no limit; zero: just look), and fills
  // `events`. Returns with `events` empty on timeout. Retries EINTR. Before
  // it returns, runs the report hook of every reported token that has one
  // (Registry::OnReport: a Waker's source is drained there). Throws SysError.
  //
  // (Not called Poll: C++ reserves a class's own name for its constructors.)
  void Wait(Events& events, std::optional<std::chrono::milliseconds> timeout);

 private:
  std::unique_ptr<Selector> selector_;
  Registry registry_;
};

}  // namespace loop

#endif  // LOOP_POLL_H_
