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

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "loop/fd.h"
#include "loop/sys_error.h"

namespace loop {
namespace {

std::string FdText(const char* what, int fd) {
  return std::string(what) + " " + std::to_string(fd);
}

void* TokenAsUdata(Token token) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(token.value));
}

// EV_ADD or NOTE_TRIGGER for the user event `token` on kqueue `kq`.
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

// The wake source that the Poll and every Waker handle own together.
//
// It owns every descriptor it signals, outright: the eventfd, both pipe ends,
// or, for kqueue_user, a duplicate of the Poll's kqueue descriptor (the kqueue
// itself lives until its last descriptor is closed). A descriptor we own cannot
// be closed under us, so its number cannot be handed to another file while we
// may still write to it.
//
// Thread safety: Wake() from any thread at any time; Drain() from the polling
// thread; PollGone() once, from the Poll's destructor.
class WakeSource {
 public:
  WakeSource(Registry& registry, Token token, WakerKind kind);

  WakeSource(const WakeSource&) = delete;
  WakeSource& operator=(const WakeSource&) = delete;

  WakeResult Wake() const;
  void Drain() const;

  // The Poll is being destroyed: from now on there is nobody to wake.
  void PollGone() noexcept {
    poll_alive_.store(false, std::memory_order_release);
  }

 private:
  bool poll_alive() const {
    return poll_alive_.load(std::memory_order_acquire);
  }

  const Token token_;
  const WakerKind kind_;
  Fd wake_fd_;   // The eventfd, the pipe's write end, or our duplicate of the
                 // kqueue.
  Fd drain_fd_;  // The pipe's read end; empty for the other kinds.
  std::atomic<bool> poll_alive_{true};
};

namespace {

// The Poll's share of a WakeSource, kept by Registry::Retain. The Poll destroys
// it after closing its selector, and that is how the source learns that the
// Poll is gone.
class PollLink {
 public:
  explicit PollLink(Arc<WakeSource> source) : source_(std::move(source)) {}
  ~PollLink() { source_->PollGone(); }

  PollLink(const PollLink&) = delete;
  PollLink& operator=(const PollLink&) = delete;

 private:
  Arc<WakeSource> source_;
};

}  // namespace

WakeSource::WakeSource(Registry& registry, Token token, WakerKind kind)
    : token_(token), kind_(kind) {
  switch (kind) {
    case WakerKind::kEventfd: {
#ifdef __linux__
      wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!wake_fd_) {
        throw SysError("eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)", errno);
      }
      registry.Register(wake_fd_.get(), token, Interest::kReadable);
#endif
      break;
    }
    case WakerKind::kPipe: {
      Pipe pipe = MakePipe(O_NONBLOCK);
      registry.Register(pipe.read.get(), token, Interest::kReadable);
      drain_fd_ = std::move(pipe.read);
      wake_fd_ = std::move(pipe.write);
      break;
    }
    case WakerKind::kKqueueUser: {
      // Our own descriptor for the Poll's kqueue: the number the Poll uses is
      // closed with the Poll and may then be reused by anything, ours stays
      // ours. EV_CLEAR: the event resets itself each time it is reported.
      const int kq = registry.selector_fd();
      wake_fd_.reset(fcntl(kq, F_DUPFD_CLOEXEC, 0));
      if (!wake_fd_) {
        throw SysError(FdText("fcntl(F_DUPFD_CLOEXEC) of kqueue", kq), errno);
      }
      if (ChangeUserEvent(wake_fd_.get(), token, EV_ADD | EV_CLEAR, 0) == -1) {
        throw SysError(
            FdText("kevent(EV_ADD EVFILT_USER) on kqueue", wake_fd_.get()),
            errno);
      }
      break;
    }
  }
}

WakeResult WakeSource::Wake() const {
  // Once the Poll is gone there is nothing to wake. The check cannot make us
  // touch a foreign file: if the Poll goes right after it, we signal our own
  // descriptor, which nobody watches any more. That is harmless, and kWoken was
  // true when we started.
  if (!poll_alive()) return WakeResult::kPollGone;
  switch (kind_) {
    case WakerKind::kEventfd: {
      const std::uint64_t one = 1;
      for (;;) {
        // An eventfd moves exactly 8 bytes or fails: no short writes.
        if (write(wake_fd_.get(), &one, sizeof one) == sizeof one) break;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
          throw SysError(FdText("write(eventfd", wake_fd_.get()) + ")", errno);
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
        n = write(wake_fd_.get(), &byte, 1);
      } while (n == -1 && errno == EINTR);
      // EAGAIN: the pipe is full, so the loop has plenty to read already.
      if (n == -1 && errno != EAGAIN) {
        throw SysError(FdText("write(pipe", wake_fd_.get()) + ")", errno);
      }
      break;
    }
    case WakerKind::kKqueueUser:
      if (ChangeUserEvent(wake_fd_.get(), token_, 0, NOTE_TRIGGER) == -1) {
        throw SysError(FdText("kevent(NOTE_TRIGGER EVFILT_USER) on kqueue",
                              wake_fd_.get()),
                       errno);
      }
      break;
  }
  return WakeResult::kWoken;
}

void WakeSource::Drain() const {
  int fd = -1;
  if (kind_ == WakerKind::kEventfd) fd = wake_fd_.get();
  if (kind_ == WakerKind::kPipe) fd = drain_fd_.get();
  if (fd == -1) return;  // kqueue_user: EV_CLEAR already reset it.
  char buffer[64];
  // An eventfd returns its whole counter in one 8-byte read; a pipe needs
  // reading until it is empty. Either way EAGAIN means "nothing (more)
  // pending".
  for (;;) {
    ssize_t n =
        read(fd, buffer, kind_ == WakerKind::kEventfd ? 8 : sizeof buffer);
    if (n > 0 && kind_ == WakerKind::kPipe) continue;
    if (n == -1 && errno == EINTR) continue;
    if (n == -1 && errno != EAGAIN) {
      throw SysError(FdText("read(wake source", fd) + ")", errno);
    }
    return;
  }
}

Waker::Waker(Registry& registry, Token token, WakerKind kind)
    : token_(token), kind_(kind) {
  CheckWakerKindFits(kind, registry.backend());
  source_ = Arc<WakeSource>::Make(registry, token, kind);
  // The Poll's share: the source now lives at least as long as the Poll.
  registry.Retain(std::make_shared<PollLink>(source_));
}

// Copies and moves are the Arc's: a copy is one more owner, a move hands ours
// over.
Waker::Waker(const Waker& other) = default;
Waker& Waker::operator=(const Waker& other) = default;
Waker::Waker(Waker&& other) noexcept = default;
Waker& Waker::operator=(Waker&& other) noexcept = default;
Waker::~Waker() = default;

WakeResult Waker::Wake() const {
  if (!source_) throw std::logic_error("Wake() on a moved-from Waker");
  return source_->Wake();
}

void Waker::Drain() const {
  if (!source_) throw std::logic_error("Drain() on a moved-from Waker");
  source_->Drain();
}

}  // namespace loop
