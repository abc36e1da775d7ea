// Lesson 10: what a Wake() costs when a wake is already pending.
//
//   bazel run -c opt //lessons/10_fast_waker:pending_wake_benchmark
//
// "before" is what lesson 09's Waker does on every Wake(): one write(2) to an
// eventfd whose counter is already non-zero (on a Mac: one byte into a pipe).
// "after" is your Waker's Wake() after one Wake() that nobody has drained,
// once per kind and backend. The counter write_syscalls_per_call is the
// kernel's count of write-family calls by this thread (/proc/thread-self/io),
// so it is exact: 1 before, 0 after once Step 1 is done. Times are noisy on a
// shared machine. On Linux, pin it to one CPU for steadier figures:
//
//   bazel build -c opt //lessons/10_fast_waker:pending_wake_benchmark
//   taskset -c 1 bazel-bin/lessons/10_fast_waker/pending_wake_benchmark
//
// Ownership: each benchmark owns its Poll, Waker and descriptors. Thread
// safety: single-threaded.
#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include <cerrno>
#include <cstdint>
#include <exception>
#include <string>

#include "benchmark/benchmark.h"
#include "loop/fd.h"
#include "loop/poll.h"
#include "loop/sys_error.h"
#include "loop/waker.h"
#include "tests/support/io_count.h"

namespace loop {
namespace {

// Runs `body`; an error skips the benchmark with its message instead of
// ending the program.
template <typename Body>
void SkipOnError(benchmark::State& state, Body body) {
  try {
    body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

struct Counters {
  bool known = HasThreadIo();
  IoCount start = known ? ThreadIo() : IoCount{};
  void Report(benchmark::State& state) const {
    if (!known) return;
    const IoCount end = ThreadIo();
    state.counters["write_syscalls_per_call"] =
        benchmark::Counter(static_cast<double>(end.writes - start.writes),
                           benchmark::Counter::kAvgIterations);
  }
};

void Before(benchmark::State& state) {
  SkipOnError(state, [&] {
#ifdef __linux__
    const int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd == -1)
      throw SysError("eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)", errno);
    const std::uint64_t one = 1;
    const int write_fd = fd;
    const void* data = &one;
    const size_t size = sizeof one;
#else
    Pipe pipe = MakePipe(O_NONBLOCK);
    const char byte = 1;
    const int write_fd = pipe.write.get();
    const void* data = &byte;
    const size_t size = 1;
#endif
    if (write(write_fd, data, size) == -1) {  // Now a wake is pending.
      throw SysError("write (the first wake)", errno);
    }
    const Counters counters;
    for (auto _ : state) {
      if (write(write_fd, data, size) == -1 && errno != EAGAIN) {
        throw SysError("write", errno);
      }
    }
    counters.Report(state);
#ifdef __linux__
    close(fd);
#endif
  });
}

void After(benchmark::State& state, Backend backend, WakerKind kind) {
  SkipOnError(state, [&] {
    Poll poll(backend);
    Waker waker(poll.registry(), Token{1}, kind);
    waker.Wake();  // Now a wake is pending; nobody polls, so it stays so.
    const Counters counters;
    for (auto _ : state) waker.Wake();
    counters.Report(state);
  });
}

}  // namespace
}  // namespace loop

int main(int argc, char** argv) {
  using loop::Backend;
  using loop::WakerKind;
  benchmark::RegisterBenchmark("before/one_write_per_wake", loop::Before);
  for (Backend backend : loop::AvailableBackends()) {
    for (WakerKind kind : loop::AvailableWakerKinds(backend)) {
      const std::string name = std::string("after/your_waker/") +
                               loop::WakerKindName(kind) + "_on_" +
                               loop::BackendName(backend);
      benchmark::RegisterBenchmark(name.c_str(),
                                   [backend, kind](benchmark::State& state) {
                                     loop::After(state, backend, kind);
                                   });
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
