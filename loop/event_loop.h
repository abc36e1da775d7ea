// An event loop on one Poll and one Waker: functions posted from any thread,
// timers, work offloaded to a pool whose results come back to the loop thread,
// fd callbacks, and Stop from any thread or a signal.
//
//   EventLoop loop;                         // Poll + Waker + 2 workers
//   loop.RunAfter(std::chrono::seconds(1), [&] { loop.Stop(); });
//   loop.Offload([] { return Crunch(); },   // on a worker thread
//                [](Result<int> r) { Use(r.value()); });  // on the loop thread
//   loop.Run();                             // until Stop()
//
// One turn of Run():
//   1. run the timers that are due;
//   2. Poll::Wait, for at most the time until the nearest timer (not at all
//      if Stop was requested);
//   3. handle the events: fd callbacks are called (Wait has drained the
//      Waker's source already);
//   4. run every function posted before this step began (one wake drains the
//      whole queue; a Post made now runs on the next turn);
//   5. return if Stop() was called.
//
// Ownership: the loop owns its Poll, Waker, pool, queued functions and timers.
// The caller owns every fd it Watch()es and Unwatch()es it before closing it.
// A LoopHandle shares only the posting side (queue + Waker), so it may outlive
// the loop: then Post and Stop return kLoopGone and touch nothing, the lesson
// 09 guarantee one level up.
//
// Shutdown: Stop() ends Run() after the current turn. Functions still queued
// and timers still pending stay for the next Run(). ~EventLoop destroys them
// without running them, drops offloaded work that has not started, and waits
// for work already running; a `done` whose work finishes after that is
// destroyed on the worker thread, never run.
//
// Thread safety: Post, Stop, Offload and handle() from any thread, also from
// callbacks. Everything else belongs to the loop thread: the thread inside
// Run(), or any one thread while the loop is not running. Called from another
// thread while Run() is going, they throw std::logic_error. Callbacks run on
// the loop thread, one at a time. An exception thrown by a callback leaves
// Run() and leaves the loop as it was: functions not yet run stay queued, and
// the events of that batch not yet delivered are delivered first by the next
// Run(). Do not destroy the loop while Run() runs, or from its own callback.
#ifndef LOOP_EVENT_LOOP_H_
#define LOOP_EVENT_LOOP_H_

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "loop/event.h"
#include "loop/fd.h"
#include "loop/poll.h"
#include "loop/selector.h"
#include "loop/waker.h"
#include "loop/worker_pool.h"

namespace loop {

using Clock = std::chrono::steady_clock;

enum class PostResult {
  kPosted,    // queued; it runs on the loop thread unless the loop is destroyed
              // first
  kLoopGone,  // the loop is gone: nothing was queued, the function was
              // destroyed
};
const char* PostResultName(PostResult result);

// Names one timer of one loop. 0 never names a timer.
struct TimerId {
  std::uint64_t value = 0;
};

// What an offloaded `work` produced: its value, or the exception it threw.
template <typename T>
class Result {
 public:
  explicit Result(T value) : value_(std::move(value)) {}
  explicit Result(std::exception_ptr error) : error_(std::move(error)) {}
  bool ok() const { return error_ == nullptr; }
  // The value; rethrows the work's exception if there is one.
  const T& value() const {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }
  std::exception_ptr error() const { return error_; }

 private:
  std::optional<T> value_;
  std::exception_ptr error_;
};

namespace internal {
// The posting side of a loop, shared by the loop and every LoopHandle.
struct LoopShared {
  explicit LoopShared(Waker w) : waker(std::move(w)) {}
  const Waker waker;  // Wake() from any thread; kPollGone once the Poll is gone
  std::mutex mu;
  bool gone = false;                         // guarded by mu: ~EventLoop began
  bool stop_requested = false;               // guarded by mu
  std::deque<std::function<void()>> posted;  // guarded by mu
};
}  // namespace internal

// A copyable, thread-safe way to reach a loop that may be gone.
class LoopHandle {
 public:
  LoopHandle() = default;  // reaches no loop: Post and Stop say kLoopGone
  // Queues fn to run on the loop thread and wakes the loop.
  PostResult Post(std::function<void()> fn) const;
  // Asks Run() to return after the current turn and wakes the loop.
  PostResult Stop() const;

 private:
  friend class EventLoop;
  explicit LoopHandle(std::shared_ptr<internal::LoopShared> shared)
      : shared_(std::move(shared)) {}
  std::shared_ptr<internal::LoopShared> shared_;
};

class EventLoop {
 public:
  struct Options {
    Backend backend = DefaultBackend();
    int workers = 2;  // Offload's pool: at least 1
    // The Waker's kind; default: kqueue_user on kqueue, eventfd on epoll.
    std::optional<WakerKind> waker_kind;
  };
  using WatchCallback = std::function<void(const Event&)>;

  EventLoop();
  explicit EventLoop(Options options);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // --- Any thread ---------------------------------------------------------
  // fn runs on the loop thread, after the functions posted before it.
  void Post(std::function<void()> fn);
  // Run() returns after the current turn (or after its first turn, if it is
  // not running yet).
  void Stop();
  LoopHandle handle() const { return LoopHandle(shared_); }
  // work() runs on a worker; done(Result) runs later on the loop thread.
  // An exception from work() reaches done as Result::error().
  template <typename Work, typename Done>
  void Offload(Work work, Done done);
  // The untyped core of Offload: done(nullptr) if work() returned, done(e) if
  // it threw e.
  void OffloadTask(std::function<void()> work,
                   std::function<void(std::exception_ptr)> done);

  // --- The loop thread ----------------------------------------------------
  // fn runs once, on the first turn at or after `deadline` (never before).
  // Timers with equal deadlines run in the order they were set.
  TimerId RunAt(Clock::time_point deadline, std::function<void()> fn);
  TimerId RunAfter(Clock::duration delay, std::function<void()> fn);
  // True if the timer was pending and now never runs; false if it already
  // ran, was cancelled, or is running now.
  bool Cancel(TimerId id);
  // Calls callback on the loop thread when fd is ready, edge-triggered as the
  // Registry is: read or write until EAGAIN. A callback may Unwatch any fd;
  // the callback of an fd unwatched earlier in the same batch is not called.
  void Watch(int fd, Interest interest, WatchCallback callback);
  void Unwatch(int fd);
  // Changes a watched fd's interest (for example: add kWritable while output
  // is queued, drop it when the queue is empty). Same token, same callback;
  // edge-triggered, so a readiness that is already there is reported again.
  void Rewatch(int fd, Interest interest);
  // These signals (default SIGINT, SIGTERM) make Run() return, through a
  // handler that only writes one byte to a pipe the loop watches. One loop
  // per process at a time; RestoreSignals (or ~EventLoop) puts back the old
  // handlers.
  void StopOnSignals(std::vector<int> signals = {SIGINT, SIGTERM});
  void RestoreSignals();
  // The signal that ended the last Run(), or 0.
  int stopped_by_signal() const { return stopped_by_signal_; }

  // Runs turns until Stop(). Not reentrant.
  void Run();
  Backend backend() const { return poll_.backend(); }
  WakerKind waker_kind() const { return shared_->waker.kind(); }

 private:
  struct TimerEntry {
    Clock::time_point deadline;
    std::uint64_t seq;  // the TimerId; orders equal deadlines
  };
  struct Later {
    bool operator()(const TimerEntry& a, const TimerEntry& b) const {
      if (a.deadline != b.deadline) return a.deadline > b.deadline;
      return a.seq > b.seq;
    }
  };
  struct WatchEntry {
    int fd;
    std::shared_ptr<WatchCallback>
        callback;  // shared: a callback may Unwatch itself
  };

  // Lesson 11's steps (event_loop.cc).
  void RunPosted();
  void RunDueTimers();
  std::optional<std::chrono::milliseconds> NextTimeout();

  // Given (event_loop_run.cc).
  void DispatchAll(const Event* begin, const Event* end);
  void Dispatch(const Event& event);
  void CheckLoopThread(const char* what) const;
  bool StopRequested();
  bool TakeStopRequest();
  void OnSignalPipeReadable();

  Poll poll_;
  std::shared_ptr<internal::LoopShared> shared_;
  Events events_{256};
  std::vector<Event>
      undelivered_;  // left by a callback's exception (loop thread)
  std::atomic<std::thread::id> loop_thread_{};  // set while Run() runs

  // Timers (loop thread). A cancelled timer leaves its entry in the heap,
  // skipped when it comes to the top: Cancel is O(1).
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, Later> timer_heap_;
  std::unordered_map<std::uint64_t, std::function<void()>> timer_fns_;
  std::uint64_t next_timer_seq_ = 1;

  // fd callbacks (loop thread). Tokens are never reused, so an event for an fd
  // unwatched earlier in a batch finds nothing.
  std::unordered_map<std::uint64_t, WatchEntry> watches_;  // by token
  std::unordered_map<int, std::uint64_t> watch_tokens_;    // by fd
  std::uint64_t next_watch_token_;

  // Signals (loop thread).
  Fd signal_read_;
  Fd signal_write_;
  std::vector<std::pair<int, struct sigaction>> saved_actions_;
  int stopped_by_signal_ = 0;

  // ~EventLoop closes it (drops work not started), marks the loop gone, then
  // joins it, so a result that arrives late finds kLoopGone.
  WorkerPool pool_;
};

template <typename Work, typename Done>
void EventLoop::Offload(Work work, Done done) {
  using T = std::invoke_result_t<Work&>;
  static_assert(!std::is_void_v<T>,
                "Offload's work must return a value (return true, say); "
                "OffloadTask takes work that returns nothing");
  // Written by the worker, read by the loop thread after the Post that
  // carries `done`: the queue's mutex orders the two.
  auto slot = std::make_shared<std::optional<T>>();
  OffloadTask(
      [work = std::move(work), slot]() mutable { slot->emplace(work()); },
      [done = std::move(done), slot](std::exception_ptr error) mutable {
        if (error) {
          done(Result<T>(error));
        } else {
          done(Result<T>(std::move(**slot)));
        }
      });
}

}  // namespace loop

#endif  // LOOP_EVENT_LOOP_H_
