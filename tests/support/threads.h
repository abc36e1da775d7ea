// Is that thread asleep in the kernel yet? For tests that want to act exactly
// while another thread is blocked in epoll_wait(), kevent() or poll(), e.g.
// wake it, signal it or register a source under it.
//
// Only ever best effort, never synchronization: a test must be correct whether
// its action lands before or during the blocking call. These helpers only make
// the blocked case the likely one. Every wait has a deadline.
//
// Linux reads /proc/self/task/TID/{stat,syscall}; elsewhere the answer is
// "blocked" at once, since it cannot be known. Thread-safe.
#ifndef TESTS_SUPPORT_THREADS_H_
#define TESTS_SUPPORT_THREADS_H_

#include <chrono>

namespace loop {
namespace testing {

// The kernel's id of the calling thread (gettid() on Linux), or 0 where it is
// not known.
long CurrentThreadId();

// True when thread `tid` of this process sleeps in a blocking system call other
// than futex: in epoll_wait(), kevent(), read() and so on, not on a mutex or a
// condition variable on the way there. False while it runs, or if `tid` is 0
// on Linux (not published yet). True where it cannot be told (not Linux, or the
// thread is gone).
bool IsBlockedInKernel(long tid);

// Polls IsBlockedInKernel(tid) until it is true (returns true) or `deadline`
// passes (returns false; the caller goes on, the order is only best effort).
bool WaitUntilBlockedInKernel(long tid, std::chrono::milliseconds deadline =
                                            std::chrono::milliseconds(1000));

}  // namespace testing
}  // namespace loop

#endif  // TESTS_SUPPORT_THREADS_H_
