// KqueueSelector: the Selector on kqueue (lesson 03's Kqueue underneath);
// native on macOS and the BSDs, on Linux through the emulation in loop/port.
//
// kqueue registers (ident, filter) pairs, not fds: an fd with both interests is
// two registrations, EVFILT_READ and EVFILT_WRITE, each EV_CLEAR
// (edge-triggered) with the token in udata. Such an fd can come back as two
// events with the same token in one Select; the contract allows that, so they
// are not merged.
//
// Thread safety: as Selector (selector.h). Select uses a scratch buffer owned
// by the selector, which is why only one thread may be in Select at a time.
#ifndef LOOP_KQUEUE_SELECTOR_H_
#define LOOP_KQUEUE_SELECTOR_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "loop/event.h"
#include "loop/kqueue.h"
#include "loop/selector.h"

namespace loop {

static_assert(sizeof(std::uintptr_t) >= sizeof(std::uint64_t),
              "a Token travels in kevent.udata, which must hold 64 bits");

// A Token through kevent.udata and back (all 64 bits; the KqueueSelector and
// lesson 07's KqueueWaker send tokens this way).
inline void* TokenToUdata(Token token) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(token.value));
}
inline Token TokenFromUdata(void* udata) {
  return Token{
      static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(udata))};
}

// The changelist that makes `fd`'s registration exactly `interest`: element 0
// is for EVFILT_READ, element 1 for EVFILT_WRITE. A wanted filter is EV_ADD |
// EV_CLEAR with the token in udata; an unwanted one is EV_DELETE (whose ENOENT,
// "was not registered", the selector tolerates).
std::array<struct kevent, 2> KqueueChangesFor(int fd, Token token,
                                              Interest interest);

// What one struct kevent reports, as an Event (the mapping is explained in
// lessons/04_poll/README.md, "Reading the kernel's flags").
Event EventFromKevent(const struct kevent& kev);

class KqueueSelector final : public Selector {
 public:
  // A new kqueue (close-on-exec). Throws SysError.
  KqueueSelector();

  void Register(int fd, Token token, Interest interest) override;
  void Reregister(int fd, Token token, Interest interest) override;
  void Deregister(int fd) override;
  void Select(Events& events,
              std::optional<std::chrono::milliseconds> timeout) override;
  Backend backend() const override { return Backend::kKqueue; }
  int fd() const override { return kqueue_.fd(); }

 private:
  Kqueue kqueue_;
  std::vector<struct kevent> buffer_;  // Only touched by Select.
};

}  // namespace loop

#endif  // LOOP_KQUEUE_SELECTOR_H_
