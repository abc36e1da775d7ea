#include "lessons/07_kqueue_pipe_waker/pipe_waker.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>

#include "lessons/todo.h"
#include "loop/sys_error.h"

namespace loop {

PipeWaker::PipeWaker(Registry& registry, Token token) : registry_(registry) {
  static_cast<void>(token);  // You will use it below.
  // TODO(lesson 07): make the pipe and register its read end.
  //   1. MakePipe(O_NONBLOCK) (lesson 01: both ends close-on-exec); move its
  //      ends into read_ and write_.
  //   2. registry_.Register(read_.get(), token, Interest::kReadable).
  LOOP_TODO("07", "07_kqueue_pipe_waker",
            "PipeWaker's constructor: make a non-blocking pipe and register "
            "its read end");
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
  // TODO(lesson 07): write one byte to write_. Retry on EINTR. EAGAIN (the pipe
  // is full) means a wake is already pending: return. Anything else: throw
  // SysError.
  LOOP_TODO("07", "07_kqueue_pipe_waker",
            "PipeWaker::Wake: write one byte (a full pipe, EAGAIN, is already "
            "woken)");
}

void PipeWaker::Drain() {
  // TODO(lesson 07): read from read_ until it is empty (EAGAIN). Retry on
  // EINTR; anything else: throw SysError.
  LOOP_TODO("07", "07_kqueue_pipe_waker",
            "PipeWaker::Drain: read the pipe until EAGAIN");
}

}  // namespace loop
