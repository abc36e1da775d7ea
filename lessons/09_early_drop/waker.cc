#include "lessons/09_early_drop/waker.h"

#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif
// <sys/event.h> does not include what its types need on older BSDs.
// clang-format off
#include <sys/types.h>
#include <sys/event.h>
// clang-format on

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

#include "loop/sys_error.h"

namespace loop {
namespace {

std::string FdText(const char* what, int fd) {
  return std::string(what) + " " + std::to_string(fd);
}

void* TokenAsUdata(Token token) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(token.value));
}

// EV_ADD, EV_DELETE or NOTE_TRIGGER for the user event `token` on kqueue `kq`.
int ChangeUserEvent(int kq, Token token, unsigned short flags,
                    unsigned fflags) {
  struct kevent change;
  EV_SET(&change, token.value, EVFILT_USER, flags, fflags, 0,
         TokenAsUdata(token));
  int r;
  do {
    r = kevent(kq, &change, 1, nullptr, 0, nullptr);
  } while (r == -1 && errno == EINTR);  // Applying it again is harmless.
  return r;
}

}  // namespace

Waker::Waker(Registry& registry, Token token, WakerKind kind)
    : token_(token), kind_(kind), registry_(&registry) {
  CheckWakerKindFits(kind, registry.backend());
  switch (kind) {
    case WakerKind::kEventfd: {
#ifdef __linux__
      owned_read_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!owned_read_) {
        throw SysError("eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)", errno);
      }
      registry.Register(owned_read_.get(), token, Interest::kReadable);
      wake_fd_ = drain_fd_ = owned_read_.get();
#endif
      break;
    }
    case WakerKind::kPipe: {
      Pipe pipe = MakePipe(O_NONBLOCK);
      registry.Register(pipe.read.get(), token, Interest::kReadable);
      owned_read_ = std::move(pipe.read);
      owned_write_ = std::move(pipe.write);
      drain_fd_ = owned_read_.get();
      wake_fd_ = owned_write_.get();
      break;
    }
    case WakerKind::kKqueueUser: {
      // The Poll owns its kqueue and outlives its Wakers (see waker.h), so the
      // number is all we need. EV_CLEAR: the event resets itself each time it
      // is reported.
      const int kq = registry.selector_fd();
      if (ChangeUserEvent(kq, token, EV_ADD | EV_CLEAR, 0) == -1) {
        throw SysError(FdText("kevent(EV_ADD EVFILT_USER) on kqueue", kq),
                       errno);
      }
      wake_fd_ = kq;
      owns_user_event_ = true;
      registry_ = nullptr;  // Nothing was registered through it.
      break;
    }
  }
}

// A copy borrows the numbers; registry_, owned_read_, owned_write_ and
// owns_user_event_ stay empty, so only the creating Waker ever releases
// anything.
Waker::Waker(const Waker& other)
    : token_(other.token_),
      kind_(other.kind_),
      wake_fd_(other.wake_fd_),
      drain_fd_(other.drain_fd_) {}

Waker& Waker::operator=(const Waker& other) {
  if (this != &other) {
    Release();
    token_ = other.token_;
    kind_ = other.kind_;
    wake_fd_ = other.wake_fd_;
    drain_fd_ = other.drain_fd_;
  }
  return *this;
}

Waker::Waker(Waker&& other) noexcept
    : token_(other.token_),
      kind_(other.kind_),
      wake_fd_(std::exchange(other.wake_fd_, -1)),
      drain_fd_(std::exchange(other.drain_fd_, -1)),
      registry_(std::exchange(other.registry_, nullptr)),
      owned_read_(std::move(other.owned_read_)),
      owned_write_(std::move(other.owned_write_)),
      owns_user_event_(std::exchange(other.owns_user_event_, false)) {}

Waker& Waker::operator=(Waker&& other) noexcept {
  if (this != &other) {
    Release();
    token_ = other.token_;
    kind_ = other.kind_;
    wake_fd_ = std::exchange(other.wake_fd_, -1);
    drain_fd_ = std::exchange(other.drain_fd_, -1);
    registry_ = std::exchange(other.registry_, nullptr);
    owned_read_ = std::move(other.owned_read_);
    owned_write_ = std::move(other.owned_write_);
    owns_user_event_ = std::exchange(other.owns_user_event_, false);
  }
  return *this;
}

Waker::~Waker() { Release(); }

// Clean up after ourselves, like any RAII type: deregister what we registered,
// close what we opened, delete the user event we added. A destructor cannot
// throw, so a failure is reported on stderr instead of hidden.
void Waker::Release() noexcept {
  if (registry_ != nullptr && owned_read_) {
    try {
      registry_->Deregister(owned_read_.get());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "loop::Waker: %s\n", e.what());
    }
  }
  if (owns_user_event_ &&
      ChangeUserEvent(wake_fd_, token_, EV_DELETE, 0) == -1) {
    std::fprintf(
        stderr, "loop::Waker: %s\n",
        DescribeSysError(
            FdText("kevent(EV_DELETE EVFILT_USER) on kqueue", wake_fd_), errno)
            .c_str());
  }
  registry_ = nullptr;
  owns_user_event_ = false;
  owned_read_.reset();
  owned_write_.reset();
  wake_fd_ = -1;
  drain_fd_ = -1;
}

WakeResult Waker::Wake() const {
  if (wake_fd_ == -1) throw std::logic_error("Wake() on a moved-from Waker");
  switch (kind_) {
    case WakerKind::kEventfd: {
      const std::uint64_t one = 1;
      for (;;) {
        // An eventfd moves exactly 8 bytes or fails: no short writes.
        if (write(wake_fd_, &one, sizeof one) == sizeof one) break;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
          throw SysError(FdText("write(eventfd", wake_fd_) + ")", errno);
        }
        // EAGAIN: the counter is at its maximum, which is normal for an
        // edge-triggered loop that never reads it. Reset it and write again:
        // the eventfd becomes readable anew, so the loop still sees this wake
        // (lesson 06's EventfdWaker does the same).
        Drain();
      }
      break;
    }
    case WakerKind::kPipe: {
      const char byte = 1;
      ssize_t n;
      do {
        n = write(wake_fd_, &byte, 1);
      } while (n == -1 && errno == EINTR);
      // EAGAIN: the pipe is full, so the loop has plenty to read already.
      if (n == -1 && errno != EAGAIN) {
        throw SysError(FdText("write(pipe", wake_fd_) + ")", errno);
      }
      break;
    }
    case WakerKind::kKqueueUser:
      if (ChangeUserEvent(wake_fd_, token_, 0, NOTE_TRIGGER) == -1) {
        throw SysError(
            FdText("kevent(NOTE_TRIGGER EVFILT_USER) on kqueue", wake_fd_),
            errno);
      }
      break;
  }
  return WakeResult::kWoken;
}

void Waker::Drain() const {
  if (wake_fd_ == -1) throw std::logic_error("Drain() on a moved-from Waker");
  if (drain_fd_ == -1) return;  // kqueue_user: EV_CLEAR already reset it.
  char buffer[64];
  // An eventfd returns its whole counter in one 8-byte read; a pipe needs
  // reading until it is empty. Either way EAGAIN means "nothing (more)
  // pending".
  for (;;) {
    ssize_t n = read(drain_fd_, buffer,
                     kind_ == WakerKind::kEventfd ? 8 : sizeof buffer);
    if (n > 0 && kind_ == WakerKind::kPipe) continue;
    if (n == -1 && errno == EINTR) continue;
    if (n == -1 && errno != EAGAIN) {
      throw SysError(FdText("read(wake source", drain_fd_) + ")", errno);
    }
    return;
  }
}

}  // namespace loop
