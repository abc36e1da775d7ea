// Question 3: what happens when 1, 2 or 8 threads wake one loop as fast as
// they can? One iteration is one loop sleep: Poll::Wait returns with the
// Waker's token (Wait drains the Waker itself). Counters:
//
//   wakes_per_sleep            Wake() calls per loop sleep (coalescing: > 1
//                              means the loop picked up many wakes at once)
//   writes_per_wake            write-family system calls the producers made,
//                              per Wake() (their syscw)
//   syscalls_per_wake          (producers' writes + the loop's reads + one per
//                              Wait) per Wake(): every Wait counts as one
//                              epoll_wait/kevent, so this is a lower bound on
//                              the kqueue emulation
//
// The wakes counted include those made between the loop's last sleep and the
// moment the producers see the stop flag (microseconds of a run of at least
// --benchmark_min_time).
//
// Ownership: the benchmark owns the Poll, the Waker (the producers hold
// copies) and the threads, which it joins before returning.
// Thread safety: producers only call Wake() on their own copy; the loop thread
// (the benchmark's) calls Wait.
#include <atomic>
#include <chrono>
#include <cstdint>
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

using Clock = std::chrono::steady_clock;

// A producer never runs longer than this, whatever the loop does.
constexpr std::chrono::seconds kProducerCap{60};

struct ProducerResult {
  std::uint64_t wakes = 0;
  IoCount io;  // this producer's syscalls while it ran
  std::string error;
};

void ManyProducers(benchmark::State& state, WakerCase c, int producers) {
  std::atomic<bool> stop{false};
  std::atomic<int> started{0};
  std::vector<ProducerResult> results(producers);
  std::vector<std::thread> threads;
  std::string error;
  try {
    Poll poll(c.backend);
    Waker waker(poll.registry(), Token{1}, c.kind);
    Events events(8);
    for (int i = 0; i < producers; ++i) {
      threads.emplace_back([&, i, handle = waker] {
        ProducerResult& r = results[i];
        try {
          const IoCount before = ThreadIo();
          const auto cap = Clock::now() + kProducerCap;
          started.fetch_add(1);
          while (!stop.load(std::memory_order_relaxed)) {
            handle.Wake();
            if ((++r.wakes & 1023) == 0 && Clock::now() > cap) break;
          }
          const IoCount after = ThreadIo();
          r.io.reads = after.reads - before.reads;
          r.io.writes = after.writes - before.writes;
        } catch (const std::exception& e) {
          r.error = e.what();
        }
      });
    }
    const auto start_deadline = Clock::now() + kWaitDeadline;
    while (started.load() < producers && Clock::now() < start_deadline) {
      std::this_thread::yield();
    }
    if (started.load() < producers)
      throw std::runtime_error("producers did not start within 5 s");
    const IoCount before = ThreadIo();
    for (auto _ : state) {
      poll.Wait(events, kWaitDeadline);
      if (events.empty()) {
        error = "no wake within 5 s";
        break;
      }
    }
    const IoCount after = ThreadIo();
    stop.store(true);
    for (std::thread& t : threads) t.join();
    threads.clear();
    std::uint64_t wakes = 0, writes = 0;
    for (const ProducerResult& r : results) {
      if (!r.error.empty() && error.empty()) error = r.error;
      wakes += r.wakes;
      writes += r.io.writes;
    }
    const double sleeps = static_cast<double>(state.iterations());
    const double loop_syscalls =
        static_cast<double>(after.reads - before.reads) + sleeps;
    if (wakes > 0 && sleeps > 0) {
      state.counters["wakes_per_sleep"] = static_cast<double>(wakes) / sleeps;
      state.counters["writes_per_wake"] =
          static_cast<double>(writes) / static_cast<double>(wakes);
      state.counters["syscalls_per_wake"] =
          (static_cast<double>(writes) + loop_syscalls) /
          static_cast<double>(wakes);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  stop.store(true);
  for (std::thread& t : threads) t.join();
  if (!error.empty()) state.SkipWithError(error.c_str());
}

}  // namespace
}  // namespace bench
}  // namespace loop

int main(int argc, char** argv) {
  using namespace loop::bench;  // NOLINT: main only
  for (const WakerCase& c : AllWakerCases()) {
    for (int n : {1, 2, 8}) {
      benchmark::RegisterBenchmark(
          ("many_producers/" + CaseName(c) + "/producers:" + std::to_string(n))
              .c_str(),
          [c, n](benchmark::State& s) { ManyProducers(s, c, n); })
          ->UseRealTime()
          // A fixed count: the first sleeps are far quicker than the steady
          // state, so Google Benchmark's own estimate grows to 10,000
          // iterations, and pinned to one CPU, where a Wake() that makes no
          // system call lets 8 spinning producers keep the loop thread off
          // the CPU for a time slice each (~2.5 ms a sleep), one repetition
          // took 26 s.
          ->Iterations(200);
    }
  }
  return loop::bench::RunBenchmarks(argc, argv);
}
