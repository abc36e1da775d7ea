// A fixed pool of worker threads that run jobs in the order they were
// submitted. Given in lesson 11: EventLoop::Offload hands it work, and the
// lesson is how the results get back to the loop thread, not the pool.
//
//   WorkerPool pool(2);
//   pool.Submit([] { Crunch(); });
//
// Ownership: the pool owns its threads and every job not yet started. Close()
// destroys the jobs not started, on the thread that calls it; jobs already
// running finish. The destructor is Close() then Join().
//
// Thread safety: Submit, Close and Join from any thread, except that Join must
// not be called from one of the pool's own jobs. A job must not throw (the
// pool would have no one to tell): EventLoop's wrapper catches everything.
#ifndef LOOP_WORKER_POOL_H_
#define LOOP_WORKER_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace loop {

class WorkerPool {
 public:
  // Starts `threads` workers (at least 1). If a thread cannot be started,
  // joins those that did and rethrows std::system_error.
  explicit WorkerPool(int threads) {
    if (threads < 1) {
      throw std::invalid_argument("WorkerPool needs at least 1 thread, not " +
                                  std::to_string(threads));
    }
    try {
      for (int i = 0; i < threads; ++i)
        threads_.emplace_back([this] { Work(); });
    } catch (...) {
      Close();
      Join();
      throw;
    }
  }
  ~WorkerPool() {
    Close();
    Join();
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job` for the next free worker. Throws std::logic_error after
  // Close(), so a job can never be silently lost.
  void Submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) {
        throw std::logic_error(
            "WorkerPool::Submit after Close(): the pool is shutting down");
      }
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  // Takes no more jobs; destroys those not started yet. Returns at once.
  void Close() {
    std::deque<std::function<void()>> dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      dropped.swap(jobs_);
    }
    cv_.notify_all();
    // `dropped` is destroyed here, outside the lock: a job's captures may
    // themselves take locks.
  }

  // Waits for the running jobs to finish and the threads to exit. Call after
  // Close(). Idempotent.
  void Join() {
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void Work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return closed_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // closed_, and nothing left to start
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;                     // guarded by mu_
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  std::vector<std::thread> threads_;        // written only by the constructor
};

}  // namespace loop

#endif  // LOOP_WORKER_POOL_H_
