// The eventfd wake source (Linux): Wake() adds 1 to the counter, and nothing
// reads it back. See loop/wake_source.h.
//
// Why no read: the Poll watches the eventfd edge-triggered (EPOLLET, or
// EV_CLEAR on the kqueue emulation), and every write() to an eventfd is a new
// edge, whatever the counter held: the kernel wakes the eventfd's waiters on
// each write, and epoll puts the fd back on its ready list. So a wake costs two
// system calls, the producer's write and the loop's epoll_wait, as in mio,
// instead of three. The counter only grows by one per reported wake (the
// pending flag lets one Signal() through per drain), so reaching its maximum
// would take 2^64 wakes; Signal() still handles it.
#include "loop/wake_source.h"

#ifdef __linux__

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>

#include "loop/fd.h"
#include "loop/sys_error.h"

namespace loop {
namespace internal {
namespace {

class EventfdWake : public WakeMechanism {
 public:
  EventfdWake(Registry& registry, Token token)
      : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!fd_) throw SysError("eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)", errno);
    registry.Register(fd_.get(), token, Interest::kReadable);
  }

  void Signal() override {
    const std::uint64_t one = 1;
    for (;;) {
      // An eventfd moves exactly 8 bytes or fails: no short writes.
      if (write(fd_.get(), &one, sizeof one) == sizeof one) return;
      if (errno == EINTR) continue;
      if (errno != EAGAIN) throw SysError(What("write"), errno);
      // EAGAIN: the counter is at its maximum (0xfffffffffffffffe). With the
      // pending flag one Wake() adds 1 per drain, so only a process that
      // inherited the eventfd (fork) could fill it. Reset the counter and
      // write again: the write is a new edge, so the loop sees this wake.
      ResetCounter();
    }
  }

  // Nothing to do: the next write is reported anew without a read (see the top
  // of this file). This is the read that the pipe cannot skip.
  void Consume() override {}

 private:
  void ResetCounter() {
    std::uint64_t count;
    for (;;) {
      // One 8-byte read returns the whole counter and sets it to 0.
      if (read(fd_.get(), &count, sizeof count) == sizeof count) return;
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;  // Already 0: nothing pending.
      throw SysError(What("read"), errno);
    }
  }

  std::string What(const char* call) const {
    return std::string(call) + "(eventfd " + std::to_string(fd_.get()) + ")";
  }

  Fd fd_;
};

}  // namespace

std::unique_ptr<WakeMechanism> MakeEventfdWake(Registry& registry,
                                               Token token) {
  return std::make_unique<EventfdWake>(registry, token);
}

}  // namespace internal
}  // namespace loop

#else  // !__linux__

#include <stdexcept>

namespace loop {
namespace internal {

std::unique_ptr<WakeMechanism> MakeEventfdWake(Registry&, Token) {
  throw std::invalid_argument("eventfd exists only on Linux");
}

}  // namespace internal
}  // namespace loop

#endif  // __linux__
