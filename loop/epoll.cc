#include "loop/epoll.h"

#ifdef __linux__

#include <sys/epoll.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <utility>

#include "loop/sys_error.h"

namespace loop {
namespace {

void Control(int epoll_fd, int op, const char* op_name, int fd,
             std::uint32_t events, std::uint64_t data) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = data;
  // EPOLL_CTL_DEL ignores the event, but kernels before 2.6.9 required a
  // non-null pointer, so pass one anyway.
  if (epoll_ctl(epoll_fd, op, fd, &event) == -1) {
    throw SysError(std::string("epoll_ctl(") + op_name + ", fd " +
                       std::to_string(fd) + ")",
                   errno);
  }
}

}  // namespace

Epoll::Epoll(Fd fd) noexcept : fd_(std::move(fd)) {}

Epoll Epoll::Create() {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd == -1) throw SysError("epoll_create1(EPOLL_CLOEXEC)", errno);
  return Epoll(Fd(fd));
}

void Epoll::Add(int fd, std::uint32_t events, std::uint64_t data) {
  Control(fd_.get(), EPOLL_CTL_ADD, "EPOLL_CTL_ADD", fd, events, data);
}

void Epoll::Modify(int fd, std::uint32_t events, std::uint64_t data) {
  Control(fd_.get(), EPOLL_CTL_MOD, "EPOLL_CTL_MOD", fd, events, data);
}

void Epoll::Delete(int fd) {
  Control(fd_.get(), EPOLL_CTL_DEL, "EPOLL_CTL_DEL", fd, 0, 0);
}

int Epoll::Wait(epoll_event* events, int max_events, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  // A signal may interrupt epoll_wait (EINTR) whatever SA_RESTART says. That is
  // not an error: wait again, but only for what is left of the timeout, so that
  // a stream of signals cannot stretch a 100 ms wait forever.
  const bool forever = timeout_ms < 0;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(forever ? 0 : timeout_ms);
  int remaining = timeout_ms;
  for (;;) {
    int n = epoll_wait(fd_.get(), events, max_events, remaining);
    if (n >= 0) return n;
    if (errno != EINTR) {
      throw SysError("epoll_wait(fd " + std::to_string(fd_.get()) + ")", errno);
    }
    if (!forever) {
      auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      remaining = left.count() > 0 ? static_cast<int>(left.count()) : 0;
    }
  }
}

int Epoll::fd() const noexcept { return fd_.get(); }

}  // namespace loop

#endif  // __linux__
