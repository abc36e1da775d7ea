// Question 5: how fast can threads hand work to a loop? P producer threads
// post 20,000 small functions in all to one loop running on its own thread;
// one iteration ends when the loop has run the last one. The time is per
// iteration (20,000 posts; items_per_second says posts per second); the
// baseline, in the same run, is Boost.Asio's boost::asio::post into an
// io_context run by one thread, with the same producers and functions.
//
//   post_throughput/asio_post/producers:P     the baseline
//   post_throughput/event_loop/producers:P    EventLoop::Post (//:loop)
//
// Counters:
//   writes_per_post   write-family system calls the producers made per post
//                     (their syscw): how often a Post had to wake the loop
//
// The producers are started in each iteration (a few tens of microseconds
// against milliseconds of posting), the same for both.
//
// Ownership: each benchmark owns its loop and threads and joins them before
// returning. Thread safety: producers only post; the functions run on the
// loop's thread and touch only `ran` (atomic, read by the benchmark thread).
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "loop/loop.h"
#include "tests/benchmarks/bench_util.h"

namespace loop {
namespace bench {
namespace {

constexpr int kPostsPerIteration = 20000;

// Counts the functions run; Wait() returns when the last one has run.
class Countdown {
 public:
  void Arm(int target) {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = false;
    left_.store(target);
  }
  void One() {  // on the loop thread, once per posted function
    if (left_.fetch_sub(1) != 1) return;
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  bool Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWaitDeadline, [this] { return done_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  std::atomic<int> left_{0};
};

// A loop to post into: Post(fn) from any thread; fn runs on the loop's thread.
class Target {
 public:
  virtual ~Target() = default;
  virtual void Post(std::function<void()> fn) = 0;
};

class EventLoopTarget : public Target {
 public:
  EventLoopTarget() : thread_([this] { loop_.Run(); }) {}
  ~EventLoopTarget() override {
    loop_.Stop();
    thread_.join();
  }
  void Post(std::function<void()> fn) override { loop_.Post(std::move(fn)); }

 private:
  EventLoop loop_;
  std::thread thread_;
};

class AsioTarget : public Target {
 public:
  AsioTarget() : thread_([this] { context_.run(); }) {}
  ~AsioTarget() override {
    work_.reset();
    context_.stop();
    thread_.join();
  }
  void Post(std::function<void()> fn) override {
    boost::asio::post(context_, std::move(fn));
  }

 private:
  boost::asio::io_context context_{1};  // concurrency hint: one thread runs it
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
      work_ = boost::asio::make_work_guard(context_);
  std::thread thread_;
};

void PostThroughput(benchmark::State& state,
                    const std::function<std::unique_ptr<Target>()>& make,
                    int producers) {
  SkipOnError(state, [&] {
    std::unique_ptr<Target> target = make();
    Countdown countdown;
    std::atomic<std::uint64_t> writes{0};
    const int each = kPostsPerIteration / producers;
    for (auto _ : state) {
      countdown.Arm(each * producers);
      std::vector<std::thread> threads;
      for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&] {
          const IoCount before = ThreadIo();
          for (int i = 0; i < each; ++i)
            target->Post([&countdown] { countdown.One(); });
          writes.fetch_add(ThreadIo().writes - before.writes);
        });
      }
      for (std::thread& t : threads) t.join();
      if (!countdown.Wait())
        throw std::runtime_error("the loop did not run every post within 5 s");
    }
    const double posts =
        static_cast<double>(state.iterations()) * each * producers;
    state.SetItemsProcessed(static_cast<std::int64_t>(posts));
    state.counters["writes_per_post"] =
        static_cast<double>(writes.load()) / posts;
  });
}

void Register(const std::string& name,
              std::function<std::unique_ptr<Target>()> make) {
  for (int producers : {1, 4}) {
    benchmark::RegisterBenchmark(
        ("post_throughput/" + name + "/producers:" + std::to_string(producers))
            .c_str(),
        [make, producers](benchmark::State& state) {
          PostThroughput(state, make, producers);
        })
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace
}  // namespace bench
}  // namespace loop

int main(int argc, char** argv) {
  using namespace loop::bench;  // NOLINT: main only
  Register("asio_post", [] { return std::make_unique<AsioTarget>(); });
  Register("event_loop", [] { return std::make_unique<EventLoopTarget>(); });
  return loop::bench::RunBenchmarks(argc, argv);
}
