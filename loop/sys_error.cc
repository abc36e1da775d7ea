#include "loop/sys_error.h"

#include <cerrno>
#include <cstring>

namespace loop {

const char* ErrnoName(int err) {
  switch (err) {
#define LOOP_ERRNO_CASE(e) \
  case e:                  \
    return #e;
    LOOP_ERRNO_CASE(EPERM)
    LOOP_ERRNO_CASE(ENOENT)
    LOOP_ERRNO_CASE(ESRCH)
    LOOP_ERRNO_CASE(EINTR)
    LOOP_ERRNO_CASE(EIO)
    LOOP_ERRNO_CASE(ENXIO)
    LOOP_ERRNO_CASE(E2BIG)
    LOOP_ERRNO_CASE(EBADF)
    LOOP_ERRNO_CASE(ECHILD)
    LOOP_ERRNO_CASE(EAGAIN)
    LOOP_ERRNO_CASE(ENOMEM)
    LOOP_ERRNO_CASE(EACCES)
    LOOP_ERRNO_CASE(EFAULT)
    LOOP_ERRNO_CASE(EBUSY)
    LOOP_ERRNO_CASE(EEXIST)
    LOOP_ERRNO_CASE(ENODEV)
    LOOP_ERRNO_CASE(ENOTDIR)
    LOOP_ERRNO_CASE(EISDIR)
    LOOP_ERRNO_CASE(EINVAL)
    LOOP_ERRNO_CASE(ENFILE)
    LOOP_ERRNO_CASE(EMFILE)
    LOOP_ERRNO_CASE(ENOSPC)
    LOOP_ERRNO_CASE(ESPIPE)
    LOOP_ERRNO_CASE(EPIPE)
    LOOP_ERRNO_CASE(ERANGE)
    LOOP_ERRNO_CASE(EDEADLK)
    LOOP_ERRNO_CASE(ENOSYS)
    LOOP_ERRNO_CASE(ELOOP)
    LOOP_ERRNO_CASE(ENOTSOCK)
    LOOP_ERRNO_CASE(EOPNOTSUPP)
    LOOP_ERRNO_CASE(EADDRINUSE)
    LOOP_ERRNO_CASE(EADDRNOTAVAIL)
    LOOP_ERRNO_CASE(ENETUNREACH)
    LOOP_ERRNO_CASE(ECONNABORTED)
    LOOP_ERRNO_CASE(ECONNRESET)
    LOOP_ERRNO_CASE(ENOBUFS)
    LOOP_ERRNO_CASE(EISCONN)
    LOOP_ERRNO_CASE(ENOTCONN)
    LOOP_ERRNO_CASE(ETIMEDOUT)
    LOOP_ERRNO_CASE(ECONNREFUSED)
    LOOP_ERRNO_CASE(EINPROGRESS)
    LOOP_ERRNO_CASE(EALREADY)
#undef LOOP_ERRNO_CASE
    default:
      break;
  }
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
  if (err == EWOULDBLOCK) return "EWOULDBLOCK";
#endif
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
  if (err == ENOTSUP) return "ENOTSUP";
#endif
  thread_local char unknown[32];
  std::snprintf(unknown, sizeof unknown, "errno %d", err);
  return unknown;
}

std::string DescribeSysError(const std::string& what, int err) {
  return what + " failed: " + ErrnoName(err) + " (" + std::strerror(err) + ")";
}

SysError::SysError(const std::string& what, int err)
    : std::system_error(err, std::generic_category()),
      message_(DescribeSysError(what, err)) {}

long CheckSys(long result, const std::string& what) {
  if (result == -1) throw SysError(what, errno);
  return result;
}

}  // namespace loop
