#include "tests/support/fds.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "loop/sys_error.h"

namespace loop {
namespace testing {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "test setup: %s\n",
               DescribeSysError(what, errno).c_str());
  std::abort();
}

void SetCloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags == -1 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1)
    Die("fcntl(FD_CLOEXEC)");
}

}  // namespace

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

bool IsCloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  return flags != -1 && (flags & FD_CLOEXEC) != 0;
}

std::set<int> OpenFdNumbers() {
#ifdef __linux__
  const char* dir_name = "/proc/self/fd";
#else
  const char* dir_name = "/dev/fd";
#endif
  DIR* dir = opendir(dir_name);
  if (dir == nullptr) Die(dir_name);
  const int own = dirfd(dir);
  std::set<int> fds;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd != own) fds.insert(fd);
  }
  closedir(dir);
  return fds;
}

bool IsNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags != -1 && (flags & O_NONBLOCK) != 0;
}

int CountOpenFds() { return static_cast<int>(OpenFdNumbers().size()); }

std::pair<int, int> RawPipe() {
  int fds[2];
  if (pipe(fds) == -1) Die("pipe()");
  SetCloexec(fds[0]);
  SetCloexec(fds[1]);
  return {fds[0], fds[1]};
}

std::pair<int, int> RawSocketPair() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1) Die("socketpair()");
  SetCloexec(fds[0]);
  SetCloexec(fds[1]);
  return {fds[0], fds[1]};
}

std::string CloseRaw(int fd) {
  if (close(fd) == 0) return "";
  return DescribeSysError("close(" + std::to_string(fd) + ")", errno);
}

}  // namespace testing
}  // namespace loop
