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

#include "lessons/todo.h"
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
  // TODO(lesson 07): add the user event to the kqueue: ApplyUserChange with the
  // flags that add it and make it edge-triggered (see the README).
  LOOP_TODO("07", "07_kqueue_pipe_waker",
            "KqueueWaker's constructor: add the EVFILT_USER event (EV_ADD | "
            "EV_CLEAR)");
}

KqueueWaker::~KqueueWaker() {
  try {
    ApplyUserChange(kqueue_fd_, ident_, EV_DELETE, 0, token_, "EV_DELETE");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loop::KqueueWaker: %s\n", e.what());
  }
}

void KqueueWaker::Wake() {
  // TODO(lesson 07): trigger the user event (fflags NOTE_TRIGGER, no flags).
  LOOP_TODO("07", "07_kqueue_pipe_waker",
            "KqueueWaker::Wake: trigger the user event with NOTE_TRIGGER");
}

}  // namespace loop
