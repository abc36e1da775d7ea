#include "tests/support/io_count.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "loop/sys_error.h"

namespace loop {

IoCount ThreadIo() {
  const int fd = open("/proc/thread-self/io", O_RDONLY | O_CLOEXEC);
  if (fd == -1) throw SysError("open(/proc/thread-self/io)", errno);
  char text[512];
  ssize_t n;
  do {
    n = read(fd, text, sizeof text - 1);
  } while (n == -1 && errno == EINTR);
  const int err = errno;
  close(fd);
  if (n == -1) throw SysError("read(/proc/thread-self/io)", err);
  text[n] = '\0';
  const char* r = std::strstr(text, "syscr: ");
  const char* w = std::strstr(text, "syscw: ");
  if (r == nullptr || w == nullptr) {
    throw SysError("/proc/thread-self/io has no syscr/syscw lines", ENOENT);
  }
  IoCount count;
  count.reads = std::strtoull(r + 7, nullptr, 10);
  count.writes = std::strtoull(w + 7, nullptr, 10);
  return count;
}

bool HasThreadIo() {
  try {
    ThreadIo();
    return true;
  } catch (const SysError&) {
    return false;
  }
}

}  // namespace loop
