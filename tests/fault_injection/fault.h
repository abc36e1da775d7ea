// Fault injection for system calls: "make call X fail the Nth time with errno
// E", on the calling thread only.
//
//   FaultPlan plan(Call::kEpollCtl, /*nth=*/1, ENOSPC);
//   ... the operation under test ...
//   EXPECT_TRUE(plan.fired());
//
// How: the test binary is linked with -Wl,--wrap=<call> for every call listed
// in Call, so every reference to `read` in the code linked into it (solutions,
// the kqueue emulation, tests/support) goes to __wrap_read (fault.cc), which
// either fails or forwards to __real_read. __real_read is an ordinary reference
// to `read`, so it reaches exactly what it would have reached without us: the
// sanitizer's interceptor under ASan/TSan (libasan/libtsan come first in the
// lookup order), libc otherwise. Unlike dlsym(RTLD_NEXT), this needs no
// assumption about the library order, and it also wraps kqueue()/kevent(),
// which the emulation defines inside the same binary. It needs a statically
// linked test (linkstatic = True): references inside shared libraries are not
// rewritten.
//
// A failed close() really closes the fd first, as Linux does for EINTR and EIO.
//
// Thread safety: a plan is thread-local; other threads' calls never count.
#ifndef TESTS_FAULT_INJECTION_FAULT_H_
#define TESTS_FAULT_INJECTION_FAULT_H_

namespace loop {
namespace testing {

enum class Call {
  kEpollCreate1,
  kEpollCtl,
  kEpollWait,
  kEventfd,
  kPipe2,
  kFcntl,
  kRead,
  kWrite,
  kClose,
  kKqueue,
  kKevent,
};

const char* CallName(Call call);

class FaultPlan {
 public:
  // Arms: the `nth` (1-based) call of `call` on this thread fails with `err`.
  FaultPlan(Call call, int nth, int err);
  // Disarms.
  ~FaultPlan();
  FaultPlan(const FaultPlan&) = delete;
  FaultPlan& operator=(const FaultPlan&) = delete;

  bool fired() const;
  // The first int argument of the failed call (usually an fd), or -1.
  int fired_arg() const;
  // How many calls of `call` were seen while armed.
  int calls() const;
};

}  // namespace testing
}  // namespace loop

#endif  // TESTS_FAULT_INJECTION_FAULT_H_
