#include "loop/fd.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "loop/sys_error.h"

namespace loop {
namespace {

// Closes `fd`, reporting (not throwing) a failure: this runs in destructors.
//
// On EINTR we do not call close() again. Linux releases the descriptor before
// close() can be interrupted, so by the time we see EINTR the number may
// already belong to a file another thread just opened; a retry would close
// that file instead. (POSIX leaves the state unspecified; Linux, and the other
// systems this workshop runs on, treat the fd as closed.)
void CloseOrReport(int fd) noexcept {
  if (close(fd) == 0) return;
  int err = errno;
  if (err == EINTR) return;  // Closed anyway; see above.
  std::string message =
      DescribeSysError("close(fd " + std::to_string(fd) + ")", err);
  if (err == EBADF) {
    message +=
        " - the descriptor was not open: something closed it already (a "
        "double close), so this Fd may have closed a number someone else now "
        "owns";
  }
  std::fprintf(stderr, "loop::Fd: %s\n", message.c_str());
}

#if !defined(__linux__) || !defined(SOCK_CLOEXEC)
// For systems without pipe2/SOCK_CLOEXEC.
void SetCloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags == -1) {
    throw SysError("fcntl(fd " + std::to_string(fd) + ", F_GETFD)", errno);
  }
  if (fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1) {
    throw SysError("fcntl(fd " + std::to_string(fd) + ", F_SETFD, FD_CLOEXEC)",
                   errno);
  }
}
#endif

}  // namespace

Fd::Fd(int fd) noexcept : fd_(fd) {}

Fd::~Fd() {
  if (fd_ != -1) CloseOrReport(fd_);
}

Fd::Fd(Fd&& other) noexcept : fd_(other.release()) {}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int Fd::get() const noexcept { return fd_; }

bool Fd::valid() const noexcept { return fd_ != -1; }

Fd::operator bool() const noexcept { return valid(); }

int Fd::release() noexcept {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::reset(int fd) noexcept {
  int old = fd_;
  fd_ = fd;
  if (old != -1 && old != fd) CloseOrReport(old);
}

Fd Fd::Duplicate() const {
  int copy = fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (copy == -1) {
    throw SysError("fcntl(fd " + std::to_string(fd_) + ", F_DUPFD_CLOEXEC)",
                   errno);
  }
  return Fd(copy);
}

Pipe MakePipe(int flags) {
  int fds[2];
#ifdef __linux__
  // pipe2 sets the flags atomically: no other thread's fork+exec can see
  // the descriptors before they are close-on-exec.
  if (pipe2(fds, O_CLOEXEC | flags) == -1) {
    throw SysError("pipe2(O_CLOEXEC | " + std::to_string(flags) + ")", errno);
  }
  return Pipe{Fd(fds[0]), Fd(fds[1])};
#else
  // macOS has no pipe2: there is a short window in which a concurrent
  // fork+exec could inherit these descriptors.
  if (pipe(fds) == -1) throw SysError("pipe()", errno);
  Pipe pipe{Fd(fds[0]), Fd(fds[1])};
  for (int fd : fds) {
    SetCloexec(fd);
    if ((flags & O_NONBLOCK) != 0) SetNonBlocking(fd);
  }
  return pipe;
#endif
}

std::pair<Fd, Fd> MakeSocketPair() {
  int fds[2];
#ifdef SOCK_CLOEXEC
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == -1) {
    throw SysError("socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)", errno);
  }
  return {Fd(fds[0]), Fd(fds[1])};
#else
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1) {
    throw SysError("socketpair(AF_UNIX, SOCK_STREAM)", errno);
  }
  std::pair<Fd, Fd> pair{Fd(fds[0]), Fd(fds[1])};
  SetCloexec(fds[0]);
  SetCloexec(fds[1]);
  return pair;
#endif
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
