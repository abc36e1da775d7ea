#include "lessons/07_kqueue_pipe_waker/kqueue_waker.h"

// <sys/event.h> does not include what its types need on older BSDs.
// clang-format off
#include <sys/types.h>
#include <sys/event.h>
// clang-format on

#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "loop/kqueue_selector.h"  // TokenToUdata
#include "loop/sys_error.h"

namespace loop {
namespace {

// Applies one change to `kq`; kevent() with no event list reports a failed
// change as -1 and errno.
void ApplyUserChange(int kq, std::uintptr_t ident, unsigned short flags,
                     unsigned fflags, Token token, const char* what) {
  struct kevent change;
  EV_SET(&change, ident, EVFILT_USER, flags, fflags, 0, TokenToUdata(token));
  while (kevent(kq, &change, 1, nullptr, 0, nullptr) == -1) {
    // Re-applying the same change is harmless, so a signal just means "try
    // again".
    if (errno == EINTR) continue;
    throw SysError(std::string("kevent(kqueue fd ") + std::to_string(kq) +
                       ", EVFILT_USER, " + what + ")",
                   errno);
  }
}

}  // namespace

KqueueWaker::KqueueWaker(Registry& registry, Token token)
    : kqueue_fd_(registry.selector_fd()),
      ident_(reinterpret_cast<std::uintptr_t>(this)),
      token_(token) {
  if (registry.backend() != Backend::kKqueue) {
    throw std::invalid_argument(
        std::string(
            "KqueueWaker needs a Poll with Backend::kKqueue: its EVFILT_USER "
            "event lives in the kqueue, but this Poll uses ") +
        BackendName(registry.backend()) +
        ". Use EventfdWaker or PipeWaker there.");
  }
  // EV_CLEAR: once the loop has been told, the event resets to "not triggered".
  // Without it, a triggered user event stays triggered and every poll reports
  // it.
  ApplyUserChange(kqueue_fd_, ident_, EV_ADD | EV_CLEAR, 0, token_,
                  "EV_ADD | EV_CLEAR");
}

KqueueWaker::~KqueueWaker() {
  try {
    ApplyUserChange(kqueue_fd_, ident_, EV_DELETE, 0, token_, "EV_DELETE");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loop::KqueueWaker: %s\n", e.what());
  }
}

void KqueueWaker::Wake() {
  // NOTE_TRIGGER with the NOTE_FFNOP action (0): trigger, leave fflags alone.
  ApplyUserChange(kqueue_fd_, ident_, 0, NOTE_TRIGGER, token_, "NOTE_TRIGGER");
}

}  // namespace loop
