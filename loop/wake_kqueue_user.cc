// The kqueue user-event wake source: an EVFILT_USER event in the Poll's own
// kqueue, triggered with NOTE_TRIGGER. See loop/wake_source.h.
#include <fcntl.h>
// <sys/event.h> does not include what its types need on older BSDs.
// clang-format off
#include <sys/types.h>
#include <sys/event.h>
// clang-format on

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>

#include "loop/fd.h"
#include "loop/sys_error.h"
#include "loop/wake_source.h"

namespace loop {
namespace internal {
namespace {

class KqueueUserWake : public WakeMechanism {
 public:
  KqueueUserWake(Registry& registry, Token token) : token_(token) {
    // Our own descriptor for the Poll's kqueue: the number the Poll uses is
    // closed with the Poll and may then be reused by anything, ours stays
    // ours. The user event itself lives in the kqueue, not in a descriptor.
    const int kq = registry.selector_fd();
    kq_.reset(fcntl(kq, F_DUPFD_CLOEXEC, 0));
    if (!kq_) {
      throw SysError("fcntl(F_DUPFD_CLOEXEC) of kqueue " + std::to_string(kq),
                     errno);
    }
    // EV_CLEAR: the event resets itself each time it is reported, so there is
    // nothing to consume.
    Change(EV_ADD | EV_CLEAR, 0, "EV_ADD EVFILT_USER");
  }

  void Signal() override {
    Change(0, NOTE_TRIGGER, "NOTE_TRIGGER EVFILT_USER");
  }

  void Consume() override {}

 private:
  void Change(unsigned short flags, unsigned fflags, const char* what) {
    struct kevent change;
    EV_SET(&change, token_.value, EVFILT_USER, flags, fflags, 0,
           reinterpret_cast<void*>(static_cast<std::uintptr_t>(token_.value)));
    while (kevent(kq_.get(), &change, 1, nullptr, 0, nullptr) == -1) {
      if (errno == EINTR) continue;  // Applying it again is harmless.
      throw SysError(std::string("kevent(") + what + ") on kqueue " +
                         std::to_string(kq_.get()),
                     errno);
    }
  }

  const Token token_;
  Fd kq_;
};

}  // namespace

std::unique_ptr<WakeMechanism> MakeKqueueUserWake(Registry& registry,
                                                  Token token) {
  return std::make_unique<KqueueUserWake>(registry, token);
}

}  // namespace internal
}  // namespace loop
