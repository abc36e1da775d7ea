// Errors from system calls, reported with the errno *name* and what was being
// done.
//
//   throw SysError("epoll_ctl(EPOLL_CTL_ADD, fd 7)", errno);
//   -> "epoll_ctl(EPOLL_CTL_ADD, fd 7) failed: EEXIST (File exists)"
//
// Thread-safe: everything here is pure or uses only thread-local errno.
#ifndef LOOP_SYS_ERROR_H_
#define LOOP_SYS_ERROR_H_

#include <string>
#include <system_error>

namespace loop {

// "EAGAIN", "EBADF", ... or "errno 1234" for a value this table does not know.
const char* ErrnoName(int err);

// "<what> failed: ENAME (strerror text)".
std::string DescribeSysError(const std::string& what, int err);

// A failed system call. code() is the errno value; what() is
// DescribeSysError().
class SysError : public std::system_error {
 public:
  SysError(const std::string& what, int err);
  int err() const { return code().value(); }
  // Only DescribeSysError's text: std::system_error would append strerror
  // again.
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// Throws SysError(what, errno) when result == -1; returns result otherwise.
long CheckSys(long result, const std::string& what);

}  // namespace loop

#endif  // LOOP_SYS_ERROR_H_
