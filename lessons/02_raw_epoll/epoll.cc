// Lesson 02: write Add, Modify, Delete and Wait. Create is done for you.
// Read lessons/02_raw_epoll/README.md first; epoll.h says what each promises.
#include "loop/epoll.h"

#ifdef __linux__

#include <sys/epoll.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <utility>

#include "lessons/todo.h"
#include "loop/sys_error.h"

namespace loop {

Epoll::Epoll(Fd fd) noexcept : fd_(std::move(fd)) {}

Epoll Epoll::Create() {
  // EPOLL_CLOEXEC: a child started with fork+exec must not inherit the epoll
  // fd (lesson 01). The Fd closes it when this Epoll dies.
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd == -1) throw SysError("epoll_create1(EPOLL_CLOEXEC)", errno);
  return Epoll(Fd(fd));
}

void Epoll::Add(int /*fd*/, std::uint32_t /*events*/, std::uint64_t /*data*/) {
  LOOP_TODO("02", "02_raw_epoll",
            "Epoll::Add: epoll_ctl(EPOLL_CTL_ADD) with an epoll_event holding "
            "events and data.u64; on -1 throw SysError(\"epoll_ctl("
            "EPOLL_CTL_ADD, fd N)\", errno)");
}

void Epoll::Modify(int /*fd*/, std::uint32_t /*events*/,
                   std::uint64_t /*data*/) {
  LOOP_TODO("02", "02_raw_epoll",
            "Epoll::Modify: like Add, with EPOLL_CTL_MOD");
}

void Epoll::Delete(int /*fd*/) {
  LOOP_TODO("02", "02_raw_epoll",
            "Epoll::Delete: like Add, with EPOLL_CTL_DEL");
}

int Epoll::Wait(epoll_event* /*events*/, int /*max_events*/,
                int /*timeout_ms*/) {
  LOOP_TODO("02", "02_raw_epoll",
            "Epoll::Wait: call epoll_wait; on EINTR call it again with the "
            "time that remains; throw SysError on other errors");
}

int Epoll::fd() const noexcept { return fd_.get(); }

}  // namespace loop

#endif  // __linux__
