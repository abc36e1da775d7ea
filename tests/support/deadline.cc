#include "tests/support/deadline.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <utility>

namespace loop {
namespace testing {

bool WaitUntil(const std::function<bool()>& pred, milliseconds deadline) {
  const auto end = Clock::now() + deadline;
  while (!pred()) {
    if (Clock::now() >= end) return false;
    // Polling a condition, not synchronizing: the result is re-checked every
    // time.
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

void Latch::CountDown() {
  std::lock_guard<std::mutex> lock(mu_);
  if (count_ > 0 && --count_ == 0) cv_.notify_all();
}

bool Latch::Wait(milliseconds deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, deadline, [this] { return count_ == 0; });
}

bool Latch::ArriveAndWait(milliseconds deadline) {
  CountDown();
  return Wait(deadline);
}

bool FinishesWithin(milliseconds deadline, const std::function<void()>& fn,
                    const std::function<void()>& rescue) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::exception_ptr error;
  };
  auto state = std::make_shared<State>();
  std::thread worker([state, &fn] {
    std::exception_ptr error;
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(state->mu);
    state->done = true;
    state->error = error;
    state->cv.notify_all();
  });
  bool in_time;
  {
    std::unique_lock<std::mutex> lock(state->mu);
    in_time = state->cv.wait_for(lock, deadline, [&] { return state->done; });
  }
  if (!in_time) rescue();
  // The rescue must unblock fn(); if it cannot, the per-test Watchdog ends the
  // process.
  worker.join();
  if (state->error) std::rethrow_exception(state->error);
  return in_time;
}

Watchdog::Watchdog(milliseconds deadline, std::string message) {
  thread_ = std::thread([this, deadline, message = std::move(message)] {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, deadline, [this] { return disarmed_; })) return;
    std::fprintf(stderr, "\n%s\n", message.c_str());
    std::fflush(stderr);
    std::_Exit(1);
  });
}

void Watchdog::Disarm() {
  std::lock_guard<std::mutex> lock(mu_);
  disarmed_ = true;
  cv_.notify_all();
}

Watchdog::~Watchdog() {
  Disarm();
  thread_.join();
}

}  // namespace testing
}  // namespace loop
