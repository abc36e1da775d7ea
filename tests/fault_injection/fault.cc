#include "tests/fault_injection/fault.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstddef>

// clang-format off
#include <sys/types.h>
#include <sys/event.h>
// clang-format on

extern "C" {
int __real_epoll_create1(int flags);
int __real_epoll_ctl(int epfd, int op, int fd, struct epoll_event* event);
int __real_epoll_wait(int epfd, struct epoll_event* events, int max, int ms);
int __real_eventfd(unsigned int initval, int flags);
int __real_pipe2(int fds[2], int flags);
int __real_fcntl(int fd, int cmd, ...);
ssize_t __real_read(int fd, void* buf, size_t n);
ssize_t __real_write(int fd, const void* buf, size_t n);
int __real_close(int fd);
int __real_kqueue(void);
int __real_kevent(int kq, const struct kevent* changes, int nchanges,
                  struct kevent* events, int nevents, const timespec* timeout);
}

namespace loop {
namespace testing {
namespace {

struct Plan {
  bool armed = false;
  Call call = Call::kRead;
  int nth = 0;
  int err = 0;
  int seen = 0;
  bool fired = false;
  int fired_arg = -1;
};

thread_local Plan plan;

// True when this call of `call` must fail; then errno is set by the caller.
bool ShouldFail(Call call, int arg) {
  if (!plan.armed || plan.call != call || plan.fired) return false;
  if (++plan.seen != plan.nth) return false;
  plan.fired = true;
  plan.fired_arg = arg;
  return true;
}

int Fail() {
  errno = plan.err;
  return -1;
}

// The body of every wrapper below but close's: fail this call as planned (`arg`
// is the fd it is about, or -1), or pass it on to `real`.
template <typename Real, typename... Args>
auto FailOr(Call call, int arg, Real real, Args... args)
    -> decltype(real(args...)) {
  if (ShouldFail(call, arg)) return Fail();
  return real(args...);
}

}  // namespace

const char* CallName(Call call) {
  switch (call) {
    case Call::kEpollCreate1:
      return "epoll_create1";
    case Call::kEpollCtl:
      return "epoll_ctl";
    case Call::kEpollWait:
      return "epoll_wait";
    case Call::kEventfd:
      return "eventfd";
    case Call::kPipe2:
      return "pipe2";
    case Call::kFcntl:
      return "fcntl";
    case Call::kRead:
      return "read";
    case Call::kWrite:
      return "write";
    case Call::kClose:
      return "close";
    case Call::kKqueue:
      return "kqueue";
    case Call::kKevent:
      return "kevent";
  }
  return "?";
}

FaultPlan::FaultPlan(Call call, int nth, int err) {
  plan = Plan{true, call, nth, err, 0, false, -1};
}
FaultPlan::~FaultPlan() { plan.armed = false; }
bool FaultPlan::fired() const { return plan.fired; }
int FaultPlan::fired_arg() const { return plan.fired_arg; }
int FaultPlan::calls() const { return plan.seen; }

}  // namespace testing
}  // namespace loop

using loop::testing::Call;
using loop::testing::Fail;
using loop::testing::FailOr;
using loop::testing::ShouldFail;

extern "C" {

int __wrap_epoll_create1(int flags) {
  return FailOr(Call::kEpollCreate1, -1, __real_epoll_create1, flags);
}

int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event* event) {
  return FailOr(Call::kEpollCtl, fd, __real_epoll_ctl, epfd, op, fd, event);
}

int __wrap_epoll_wait(int epfd, struct epoll_event* events, int max, int ms) {
  return FailOr(Call::kEpollWait, epfd, __real_epoll_wait, epfd, events, max,
                ms);
}

int __wrap_eventfd(unsigned int initval, int flags) {
  return FailOr(Call::kEventfd, -1, __real_eventfd, initval, flags);
}

int __wrap_pipe2(int fds[2], int flags) {
  return FailOr(Call::kPipe2, -1, __real_pipe2, fds, flags);
}

// Every fcntl command takes at most one argument, an int or a pointer; read it
// as a pointer-sized value and pass it on (as glibc itself does).
int __wrap_fcntl(int fd, int cmd, ...) {
  va_list args;
  va_start(args, cmd);
  void* arg = va_arg(args, void*);
  va_end(args);
  return FailOr(Call::kFcntl, fd, __real_fcntl, fd, cmd, arg);
}

ssize_t __wrap_read(int fd, void* buf, size_t n) {
  return FailOr(Call::kRead, fd, __real_read, fd, buf, n);
}

ssize_t __wrap_write(int fd, const void* buf, size_t n) {
  return FailOr(Call::kWrite, fd, __real_write, fd, buf, n);
}

int __wrap_close(int fd) {
  if (ShouldFail(Call::kClose, fd)) {
    __real_close(fd);  // Linux releases the fd before reporting EINTR/EIO.
    return Fail();
  }
  return __real_close(fd);
}

int __wrap_kqueue(void) { return FailOr(Call::kKqueue, -1, __real_kqueue); }

int __wrap_kevent(int kq, const struct kevent* changes, int nchanges,
                  struct kevent* events, int nevents, const timespec* timeout) {
  return FailOr(Call::kKevent, kq, __real_kevent, kq, changes, nchanges, events,
                nevents, timeout);
}

}  // extern "C"
