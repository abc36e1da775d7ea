#include "lessons/06_eventfd_waker/eventfd_waker.h"

#if defined(__linux__)

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "loop/sys_error.h"

namespace loop {

EventfdWaker::EventfdWaker(Registry& registry, Token token)
    : registry_(registry) {
  // The counter starts at 0: a new waker must not look woken.
  fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd_.valid())
    throw SysError("eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)", errno);
  // If this throws, fd_ (already constructed) closes the eventfd.
  registry_.Register(fd_.get(), token, Interest::kReadable);
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
  const std::uint64_t one = 1;
  for (;;) {
    // An eventfd moves exactly 8 bytes or fails: there are no short writes.
    if (write(fd_.get(), &one, sizeof one) == sizeof one) return;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      // The counter holds at most 0xfffffffffffffffe; a write that would pass
      // that fails with EAGAIN (a blocking eventfd would wait for a reader
      // instead). The counter being that high means wakes are pending and
      // nobody reads it, which is normal for an edge-triggered loop: it never
      // needs to. So reset it to 0 and write again. The write makes the eventfd
      // readable anew, which re-queues the edge-triggered waiter, so the loop
      // still sees this wake. Drain() racing with another thread's Drain() is
      // harmless: whoever reads second finds 0.
      Drain();
      continue;
    }
    throw SysError("write(eventfd " + std::to_string(fd_.get()) + ", 1)",
                   errno);
  }
}

void EventfdWaker::Drain() {
  std::uint64_t count;
  for (;;) {
    // One 8-byte read returns the whole counter and sets it to 0.
    if (read(fd_.get(), &count, sizeof count) == sizeof count) return;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return;  // The counter was already 0: nothing pending.
    throw SysError("read(eventfd " + std::to_string(fd_.get()) + ")", errno);
  }
}

}  // namespace loop

#endif  // defined(__linux__)
