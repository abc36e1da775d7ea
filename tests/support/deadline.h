// Waiting in tests without ever hanging.
//
// Every wait in this repository's tests has a deadline. A wait that runs out is
// a test failure with an explanation, never a Bazel timeout. Use:
//
// WaitUntil(pred, deadline): poll a condition, e.g. an atomic set by another
//   thread.
// Latch: order threads ("the worker has woken and destroyed its Waker") with a
//   deadline.
// FinishesWithin(deadline, fn, rescue): run something that blocks (e.g. poll()
//   with no timeout) on a thread; if it is still blocked at the deadline, call
//   rescue() to unblock it, join, and report false so the test can fail with a
//   message and carry on.
// Watchdog: the last resort; ends the process with a message (:main arms one
//   per test).
//
// All of these are thread-safe.
#ifndef TESTS_SUPPORT_DEADLINE_H_
#define TESTS_SUPPORT_DEADLINE_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace loop {
namespace testing {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Long enough for a loaded 2-core VM under TSan, short enough to fail fast.
constexpr milliseconds kDefaultDeadline{5000};

// Calls pred() about every millisecond until it returns true (returns true) or
// the deadline passes (returns false).
bool WaitUntil(const std::function<bool()>& pred,
               milliseconds deadline = kDefaultDeadline);

// A one-shot countdown, like C++20's std::latch, whose Wait has a deadline.
class Latch {
 public:
  explicit Latch(int count) : count_(count) {}
  void CountDown();
  // True when the count reached zero before the deadline.
  bool Wait(milliseconds deadline = kDefaultDeadline);
  // CountDown() then Wait().
  bool ArriveAndWait(milliseconds deadline = kDefaultDeadline);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_;
};

// Runs fn() on a new thread and waits for it up to `deadline`. If fn() is still
// running then, calls rescue() (which must make fn() return, for example by
// writing to a second fd the blocked poll() also watches), joins the thread and
// returns false. Returns true if fn() finished in time. Exceptions thrown by
// fn() are rethrown here.
bool FinishesWithin(milliseconds deadline, const std::function<void()>& fn,
                    const std::function<void()>& rescue);

// Ends the process with `message` on stderr (exit status 1) unless destroyed or
// Disarm()ed within `deadline`.
class Watchdog {
 public:
  Watchdog(milliseconds deadline, std::string message);
  ~Watchdog();
  void Disarm();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::thread thread_;
};

}  // namespace testing
}  // namespace loop

#endif  // TESTS_SUPPORT_DEADLINE_H_
