// Lesson 11, the reference: posting, timers and offloading. The rest of the
// loop (Run, Watch, signals, shutdown) is given in loop/event_loop_run.cc.
#include "loop/event_loop.h"

#include <stdexcept>
#include <utility>

namespace loop {

// 1. Post: queue under the lock, then wake. The Wake is outside the lock: it
// never blocks a producer behind another one's system call, and a Wake that
// finds one pending (lesson 10) costs an atomic exchange.
PostResult LoopHandle::Post(std::function<void()> fn) const {
  if (!fn) throw std::invalid_argument("Post: empty function");
  if (!shared_) return PostResult::kLoopGone;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    if (shared_->gone) return PostResult::kLoopGone;  // fn is destroyed here
    shared_->posted.push_back(std::move(fn));
  }
  shared_->waker.Wake();
  return PostResult::kPosted;
}

void EventLoop::Post(std::function<void()> fn) { handle().Post(std::move(fn)); }

// Take the whole queue in one swap: one wake runs every function posted so
// far, and a function posted from now on (even by one of these) waits for the
// next turn. If one throws, the rest go back to the front of the queue, with
// a Wake, since the wake that brought them has been drained.
void EventLoop::RunPosted() {
  std::deque<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    batch.swap(shared_->posted);
  }
  while (!batch.empty()) {
    std::function<void()> fn = std::move(batch.front());
    batch.pop_front();
    try {
      fn();
    } catch (...) {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->posted.insert(shared_->posted.begin(),
                             std::make_move_iterator(batch.begin()),
                             std::make_move_iterator(batch.end()));
      shared_->waker.Wake();
      throw;
    }
  }
}

// 2. Timers: a min-heap of (deadline, seq); the callbacks live in a map, so
// Cancel is one erase and a cancelled entry is skipped when it surfaces.
TimerId EventLoop::RunAt(Clock::time_point deadline, std::function<void()> fn) {
  CheckLoopThread("RunAt");
  if (!fn) throw std::invalid_argument("RunAt: empty function");
  const std::uint64_t seq = next_timer_seq_++;
  timer_heap_.push(TimerEntry{deadline, seq});
  timer_fns_.emplace(seq, std::move(fn));
  return TimerId{seq};
}

TimerId EventLoop::RunAfter(Clock::duration delay, std::function<void()> fn) {
  return RunAt(Clock::now() + delay, std::move(fn));
}

bool EventLoop::Cancel(TimerId id) {
  CheckLoopThread("Cancel");
  return timer_fns_.erase(id.value) == 1;
}

// Run what is due at one instant, `now`. Timers set by these callbacks wait
// for a later turn, even if already due, so a timer that re-arms itself with
// no delay cannot keep the loop here forever.
void EventLoop::RunDueTimers() {
  const Clock::time_point now = Clock::now();
  const std::uint64_t first_new = next_timer_seq_;
  std::vector<TimerEntry> set_meanwhile;
  while (!timer_heap_.empty() && timer_heap_.top().deadline <= now) {
    const TimerEntry entry = timer_heap_.top();
    timer_heap_.pop();
    if (entry.seq >= first_new) {
      set_meanwhile.push_back(entry);
      continue;
    }
    auto it = timer_fns_.find(entry.seq);
    if (it == timer_fns_.end()) continue;  // cancelled
    std::function<void()> fn = std::move(it->second);
    timer_fns_.erase(it);  // before the call: Cancel(itself) says false
    try {
      fn();
    } catch (...) {
      for (const TimerEntry& e : set_meanwhile) timer_heap_.push(e);
      throw;
    }
  }
  for (const TimerEntry& e : set_meanwhile) timer_heap_.push(e);
}

// The poll timeout: the time to the nearest live deadline, rounded *up* to a
// millisecond (rounding down would wake early and spin), or none at all.
std::optional<std::chrono::milliseconds> EventLoop::NextTimeout() {
  while (!timer_heap_.empty() && timer_fns_.count(timer_heap_.top().seq) == 0) {
    timer_heap_.pop();  // cancelled
  }
  if (timer_heap_.empty()) return std::nullopt;
  const Clock::duration left = timer_heap_.top().deadline - Clock::now();
  if (left <= Clock::duration::zero()) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(left);
}

// 3. Offload: work runs on a worker; its result comes back as a Post, which
// is the Waker waking the loop: "worker threads notify the main thread".
void EventLoop::OffloadTask(std::function<void()> work,
                            std::function<void(std::exception_ptr)> done) {
  if (!work || !done)
    throw std::invalid_argument("OffloadTask: empty function");
  pool_.Submit([work = std::move(work), done = std::move(done),
                loop = handle()]() mutable {
    std::exception_ptr error;
    try {
      work();
    } catch (...) {
      error = std::current_exception();
    }
    // kLoopGone: the loop was destroyed meanwhile; done is destroyed, unrun.
    loop.Post([done = std::move(done), error]() { done(error); });
  });
}

}  // namespace loop
