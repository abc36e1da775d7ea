// EpollSelector: the Selector on Linux's epoll (lesson 02's Epoll underneath).
//
// Every registration is EPOLLET (edge-triggered) with EPOLLRDHUP, so a peer's
// shutdown is reported as read-closed on sockets. The token travels in
// epoll_event.data.u64. Linux only: this header and its .cc are compiled only
// there.
//
// Thread safety: as Selector (selector.h). Select uses a scratch buffer owned
// by the selector, which is why only one thread may be in Select at a time.
#ifndef LOOP_EPOLL_SELECTOR_H_
#define LOOP_EPOLL_SELECTOR_H_

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "loop/epoll.h"
#include "loop/event.h"
#include "loop/selector.h"

namespace loop {

// The epoll_event.events mask that registers `interest`: EPOLLET | EPOLLRDHUP
// plus EPOLLIN for readable and EPOLLOUT for writable.
std::uint32_t EpollEventsFor(Interest interest);

// What one epoll_event reports, as an Event (the mapping is explained in
// lessons/04_poll/README.md, "Reading the kernel's flags").
Event EventFromEpoll(const epoll_event& event);

class EpollSelector final : public Selector {
 public:
  // A new epoll instance (close-on-exec). Throws SysError.
  EpollSelector();

  void Register(int fd, Token token, Interest interest) override;
  void Reregister(int fd, Token token, Interest interest) override;
  void Deregister(int fd) override;
  void Select(Events& events,
              std::optional<std::chrono::milliseconds> timeout) override;
  Backend backend() const override { return Backend::kEpoll; }
  int fd() const override { return epoll_.fd(); }

 private:
  Epoll epoll_;
  std::vector<epoll_event> buffer_;  // Only touched by Select.
};

}  // namespace loop

#endif  // LOOP_EPOLL_SELECTOR_H_
