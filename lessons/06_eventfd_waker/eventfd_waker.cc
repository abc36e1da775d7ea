#include "lessons/06_eventfd_waker/eventfd_waker.h"

#if defined(__linux__)

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "lessons/todo.h"
#include "loop/sys_error.h"

namespace loop {

EventfdWaker::EventfdWaker(Registry& registry, Token token)
    : registry_(registry) {
  static_cast<void>(token);  // You will use it below.
  // TODO(lesson 06): create the eventfd and register it.
  //   1. eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), kept in fd_ (fd_.reset(...));
  //      on -1, throw SysError("eventfd(...)", errno).
  //   2. registry_.Register(fd_.get(), token, Interest::kReadable).
  LOOP_TODO("06", "06_eventfd_waker",
            "EventfdWaker's constructor: create the eventfd (EFD_CLOEXEC | "
            "EFD_NONBLOCK) and register it for reading");
}

EventfdWaker::~EventfdWaker() {
  try {
    registry_.Deregister(fd_.get());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loop::EventfdWaker: %s\n", e.what());
  }
  // fd_ closes the eventfd after this body.
}

void EventfdWaker::Wake() {
  // TODO(lesson 06): write the 8-byte value 1 to fd_. Retry on EINTR. On
  // EAGAIN the counter is at its maximum: Drain() it, then write again (say why
  // in a comment). Any other error: throw SysError.
  LOOP_TODO("06", "06_eventfd_waker",
            "EventfdWaker::Wake: write 1 to the eventfd (on EAGAIN, Drain and "
            "retry)");
}

void EventfdWaker::Drain() {
  // TODO(lesson 06): read 8 bytes from fd_ (that resets the counter to 0).
  // Retry on EINTR; EAGAIN means there was nothing to drain; any other error:
  // throw SysError.
  LOOP_TODO("06", "06_eventfd_waker",
            "EventfdWaker::Drain: read the eventfd's counter (EAGAIN means "
            "nothing was pending)");
}

}  // namespace loop

#endif  // defined(__linux__)
