// Which comes first in Drain() of a coalescing Waker: reading the source or
// clearing the "a wake is pending" flag? (The fast Waker of a later lesson.)
//
// The Waker: Wake() sets `pending` with an exchange and writes the eventfd only
// when the flag was clear, so a wake while one is pending makes no system call.
// The loop, when it sees the wake: Drain(), then the work (a queue, say).
// Another thread's Wake() may land anywhere in Drain(). Each test plays one
// such interleaving on one thread, so the result is exact, not timing luck:
// epoll reports an eventfd's readiness as soon as write() returns.
//
// The result: read first, clear second. Clearing first lets a concurrent
// Wake() write while the flag is clear, and the read that follows consumes that
// write: the flag stays set with nothing in the kernel, and every later Wake()
// is skipped. The loop never wakes again. Reading first, a Wake() that lands
// before the clear is skipped, but its work is already queued and the loop does
// the work after Drain(), in this very turn.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "gtest/gtest.h"
#include "loop/fd.h"
#include "loop/sys_error.h"

namespace loop {
namespace {

// A coalescing wake source on an edge-triggered epoll, as small as it gets.
class FlagWaker {
 public:
  FlagWaker()
      : epoll_(static_cast<int>(
            CheckSys(epoll_create1(EPOLL_CLOEXEC), "epoll_create1"))),
        eventfd_(static_cast<int>(
            CheckSys(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd"))) {
    epoll_event event{};
    event.events = EPOLLIN | EPOLLET;
    CheckSys(epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, eventfd_.get(), &event),
             "epoll_ctl(ADD eventfd)");
  }

  void Wake() {
    if (pending_.exchange(true, std::memory_order_acq_rel)) return;
    const std::uint64_t one = 1;
    CheckSys(write(eventfd_.get(), &one, sizeof one), "write(eventfd)");
  }
  void ClearPending() { pending_.store(false, std::memory_order_release); }
  void ReadSource() {
    std::uint64_t counter;
    if (read(eventfd_.get(), &counter, sizeof counter) == -1 &&
        errno != EAGAIN) {
      throw SysError("read(eventfd)", errno);
    }
  }
  bool pending() const { return pending_.load(std::memory_order_acquire); }

  // True if the loop would wake now: epoll_wait with a zero timeout.
  bool LoopWakes() {
    epoll_event event;
    return CheckSys(epoll_wait(epoll_.get(), &event, 1, 0), "epoll_wait") == 1;
  }

 private:
  Fd epoll_;
  Fd eventfd_;
  std::atomic<bool> pending_{false};
};

TEST(PendingFlagOrder, ClearingBeforeReadingCanStallTheLoopForever) {
  FlagWaker waker;
  waker.Wake();
  ASSERT_TRUE(waker.LoopWakes()) << "test setup: the first wake is seen";
  // Drain(), clearing first:
  waker.ClearPending();
  waker.Wake();  // Another thread, between the clear and the read: it writes.
  waker.ReadSource();  // ...and this read consumes that write.
  // The loop does its work (the second Wake()'s too) and sleeps again.
  EXPECT_TRUE(waker.pending()) << "the flag says a wake is pending";
  EXPECT_FALSE(waker.LoopWakes()) << "but the kernel has nothing to report";
  waker.Wake();  // A later wake, with new work: skipped, the flag is set.
  EXPECT_FALSE(waker.LoopWakes())
      << "if this wake were seen, clearing first would be safe after all";
}

TEST(PendingFlagOrder, ReadingBeforeClearingLosesNothing) {
  FlagWaker waker;
  waker.Wake();
  ASSERT_TRUE(waker.LoopWakes()) << "test setup: the first wake is seen";
  // Drain(), reading first:
  waker.ReadSource();
  waker.Wake();  // Another thread, between the read and the clear: skipped,
                 // but its work is queued and this turn does it after Drain().
  waker.ClearPending();
  EXPECT_FALSE(waker.LoopWakes()) << "nothing is left in the kernel";
  waker.Wake();  // A later wake: the flag is clear, so it writes.
  EXPECT_TRUE(waker.LoopWakes()) << "the later wake must be seen";
}

}  // namespace
}  // namespace loop
