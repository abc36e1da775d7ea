// Question 2: what does a wake cost when one is already pending (the loop has
// not looked yet)? One iteration is one call; counters say how many write- and
// read-family system calls each call made (the kernel's syscw/syscr for this
// thread, read before and after the timed loop: a count, not a time).
//
//   pending_wake/raw_eventfd_write   write(eventfd, 1) on an eventfd whose
//                                    counter is already non-zero: the
//                                    baseline every ratio is taken to.
//   pending_wake/waker/BACKEND/KIND  the final Waker's Wake() after one Wake()
//                                    that nobody has drained.
//
// The goal for a fast Waker is < 20 ns and 0 system calls per pending wake
// (an atomic "already pending" flag, lesson 10); lesson 09's Waker wrote every
// time.
//
// Ownership: each benchmark owns its Poll, Waker and eventfd for its run.
// Thread safety: single-threaded.
#include <string>

#include "benchmark/benchmark.h"
#include "loop/loop.h"
#include "tests/benchmarks/bench_util.h"

namespace loop {
namespace bench {
namespace {

void ReportSyscalls(benchmark::State& state, const IoCount& before,
                    const IoCount& after) {
  state.counters["write_syscalls_per_call"] =
      benchmark::Counter(static_cast<double>(after.writes - before.writes),
                         benchmark::Counter::kAvgIterations);
  state.counters["read_syscalls_per_call"] =
      benchmark::Counter(static_cast<double>(after.reads - before.reads),
                         benchmark::Counter::kAvgIterations);
}

void RawEventfdWrite(benchmark::State& state) {
  SkipOnError(state, [&] {
    RawEventfd efd;
    efd.Add1();  // pending
    const IoCount before = ThreadIo();
    for (auto _ : state) efd.Add1();
    const IoCount after = ThreadIo();
    ReportSyscalls(state, before, after);
  });
}

void WakerWake(benchmark::State& state, WakerCase c) {
  SkipOnError(state, [&] {
    Poll poll(c.backend);
    Waker waker(poll.registry(), Token{1}, c.kind);
    waker.Wake();  // pending: nobody polls, so it stays pending
    const IoCount before = ThreadIo();
    for (auto _ : state) waker.Wake();
    const IoCount after = ThreadIo();
    ReportSyscalls(state, before, after);
  });
}

}  // namespace
}  // namespace bench
}  // namespace loop

int main(int argc, char** argv) {
  using namespace loop::bench;  // NOLINT: main only
  benchmark::RegisterBenchmark("pending_wake/raw_eventfd_write",
                               RawEventfdWrite);
  for (const WakerCase& c : AllWakerCases()) {
    benchmark::RegisterBenchmark(("pending_wake/waker/" + CaseName(c)).c_str(),
                                 [c](benchmark::State& s) { WakerWake(s, c); });
  }
  return loop::bench::RunBenchmarks(argc, argv);
}
