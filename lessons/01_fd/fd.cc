// Lesson 01: write the parts of Fd marked TODO, then MakePipe.
// Read lessons/01_fd/README.md first; fd.h says what each function promises.
#include "loop/fd.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "lessons/todo.h"
#include "loop/sys_error.h"

namespace loop {

Fd::Fd(int fd) noexcept : fd_(fd) {}

Fd::~Fd() {
  // TODO(lesson 01): if this Fd owns a descriptor, close it. close() can fail;
  // a destructor cannot throw, so print the failure on stderr with the errno
  // name (ErrnoName or DescribeSysError from sys_error.h). EBADF means it was
  // already closed: say "double close". Do not retry on EINTR (README, step 1).
}

Fd::Fd(Fd&& /*other*/) noexcept {
  // TODO(lesson 01): take other's descriptor; leave other empty (-1).
}

Fd& Fd::operator=(Fd&& /*other*/) noexcept {
  // TODO(lesson 01): close what *this owns, then take other's descriptor and
  // leave other empty. `fd = std::move(fd)` must keep the descriptor.
  return *this;
}

int Fd::get() const noexcept { return fd_; }

bool Fd::valid() const noexcept { return fd_ != -1; }

Fd::operator bool() const noexcept { return valid(); }

int Fd::release() noexcept {
  // TODO(lesson 01): return the descriptor and forget it, without closing.
  return -1;
}

void Fd::reset(int /*fd*/) noexcept {
  // TODO(lesson 01): close the current descriptor (if any), then own fd.
}

Fd Fd::Duplicate() const {
  LOOP_TODO(
      "01", "01_fd",
      "Fd::Duplicate: fcntl(fd, F_DUPFD_CLOEXEC, 0); throw SysError on -1");
}

Pipe MakePipe(int /*flags*/) {
  LOOP_TODO("01", "01_fd",
            "MakePipe: pipe2(fds, O_CLOEXEC | flags); throw SysError on -1");
}

// MakeSocketPair and SetNonBlocking are done: they show the pattern for the
// functions above (check for -1, throw SysError naming the call and the fd).

std::pair<Fd, Fd> MakeSocketPair() {
  int fds[2];
  // SOCK_CLOEXEC sets close-on-exec atomically, in the same call that creates
  // the sockets. macOS lacks it; there the reference code calls socketpair()
  // without it and then sets FD_CLOEXEC on each end with fcntl(F_SETFD), which
  // leaves a short window in which a fork+exec in another thread inherits them.
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == -1) {
    throw SysError("socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)", errno);
  }
  return {Fd(fds[0]), Fd(fds[1])};
}

void SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags == -1) {
    throw SysError("fcntl(fd " + std::to_string(fd) + ", F_GETFL)", errno);
  }
  if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
    throw SysError("fcntl(fd " + std::to_string(fd) + ", F_SETFL, O_NONBLOCK)",
                   errno);
  }
}

}  // namespace loop
