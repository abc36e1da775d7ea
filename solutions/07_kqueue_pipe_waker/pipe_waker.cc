#include "lessons/07_kqueue_pipe_waker/pipe_waker.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>

#include "loop/sys_error.h"

namespace loop {

PipeWaker::PipeWaker(Registry& registry, Token token) : registry_(registry) {
  // Both ends non-blocking: Wake() must never wait for the loop to make room,
  // and Drain() must stop, not sleep, when the pipe is empty.
  Pipe pipe = MakePipe(O_NONBLOCK);
  read_ = std::move(pipe.read);
  write_ = std::move(pipe.write);
  // If this throws, read_ and write_ (already constructed) close the pipe.
  registry_.Register(read_.get(), token, Interest::kReadable);
}

PipeWaker::~PipeWaker() {
  try {
    registry_.Deregister(read_.get());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loop::PipeWaker: %s\n", e.what());
  }
  // read_ and write_ close the pipe after this body.
}

void PipeWaker::Wake() {
  const char byte = 1;
  for (;;) {
    if (write(write_.get(), &byte, 1) == 1) return;
    if (errno == EINTR) continue;
    // A full pipe is readable and the loop has not drained it since the byte
    // that made it readable: that byte's event is still to come (or being
    // handled, and the loop drains before it handles the work). One more byte
    // would add nothing.
    if (errno == EAGAIN) return;
    throw SysError(
        "write(pipe fd " + std::to_string(write_.get()) + ", 1 byte)", errno);
  }
}

void PipeWaker::Drain() {
  char buffer[256];
  for (;;) {
    const ssize_t n = read(read_.get(), buffer, sizeof buffer);
    if (n > 0) continue;
    if (n == 0) return;  // End of file: impossible while write_ is open.
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return;  // Empty: the next Wake() is a new event.
    throw SysError("read(pipe fd " + std::to_string(read_.get()) + ")", errno);
  }
}

}  // namespace loop
