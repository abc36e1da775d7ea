// Lesson 11: your half of the EventLoop. Read loop/event_loop_run.cc's Run()
// first: each turn calls your RunDueTimers(), NextTimeout() and RunPosted().
// Steps, in order (lessons/11_event_loop/README.md):
//   1. Post and RunPosted: the queue, and one wake for all of it.
//   2. RunAt, Cancel, RunDueTimers, NextTimeout: the timers.
//   3. OffloadTask: work on the pool, the result back through Post.
#include "loop/event_loop.h"

#include <stdexcept>
#include <utility>

#include "lessons/todo.h"

namespace loop {

// 1. Post.
PostResult LoopHandle::Post(std::function<void()> fn) const {
  (void)fn;
  LOOP_TODO("11", "11_event_loop",
            "LoopHandle::Post: under shared_->mu, say kLoopGone if the loop is "
            "gone, else push fn onto shared_->posted; then wake the loop with "
            "shared_->waker.Wake()");
}

void EventLoop::Post(std::function<void()> fn) { handle().Post(std::move(fn)); }

void EventLoop::RunPosted() {
  // TODO(lesson 11): take the whole of shared_->posted under the lock, then
  // run it outside the lock. Until then this does nothing, so Run() still
  // turns (it must not throw: Run() calls it every turn).
}

// 2. Timers.
TimerId EventLoop::RunAt(Clock::time_point deadline, std::function<void()> fn) {
  CheckLoopThread("RunAt");
  (void)deadline;
  (void)fn;
  LOOP_TODO(
      "11", "11_event_loop",
      "EventLoop::RunAt: push {deadline, seq} onto timer_heap_ and keep fn "
      "in timer_fns_[seq]");
}

TimerId EventLoop::RunAfter(Clock::duration delay, std::function<void()> fn) {
  return RunAt(Clock::now() + delay, std::move(fn));
}

bool EventLoop::Cancel(TimerId id) {
  CheckLoopThread("Cancel");
  (void)id;
  LOOP_TODO(
      "11", "11_event_loop",
      "EventLoop::Cancel: erase the timer's function; true if it was there");
}

void EventLoop::RunDueTimers() {
  // TODO(lesson 11): pop and run the timers whose deadline has come. Until
  // then this does nothing.
}

std::optional<std::chrono::milliseconds> EventLoop::NextTimeout() {
  // TODO(lesson 11): the time until the nearest timer, rounded up to a
  // millisecond. Until then: no timeout, sleep until an event.
  return std::nullopt;
}

// 3. Offload.
void EventLoop::OffloadTask(std::function<void()> work,
                            std::function<void(std::exception_ptr)> done) {
  (void)work;
  (void)done;
  LOOP_TODO(
      "11", "11_event_loop",
      "EventLoop::OffloadTask: pool_.Submit a job that runs work(), catches "
      "what it throws, and Posts done(error) back through a LoopHandle");
}

}  // namespace loop
