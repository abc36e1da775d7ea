// The eventfd wake source (Linux): Wake() adds 1 to the counter, the Poll's
// drain reads it back to 0. See loop/wake_source.h.
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
      // write again: the eventfd becomes readable anew, so the loop sees this
      // wake.
      Consume();
    }
  }

  void Consume() override {
    std::uint64_t count;
    for (;;) {
      // One 8-byte read returns the whole counter and sets it to 0.
      if (read(fd_.get(), &count, sizeof count) == sizeof count) return;
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;  // Already 0: nothing pending.
      throw SysError(What("read"), errno);
    }
  }

 private:
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
