// What the benchmarks in tests/benchmarks share: errors with errno names,
// deadlines, and the list of final Waker kinds per backend. The kernel's
// per-thread syscall counters (ThreadIo) come from tests/support/io_count.h.
//
// Ownership: Fd-like helpers here own what they open (RawEventfd closes its
// eventfd). Nothing here is shared between threads unless its comment says
// so.
//
// Thread safety: plain data and pure functions, unless a comment says
// otherwise.
#ifndef TESTS_BENCHMARKS_BENCH_UTIL_H_
#define TESTS_BENCHMARKS_BENCH_UTIL_H_

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "loop/loop.h"
#include "tests/support/io_count.h"

namespace loop {
namespace bench {

// Every wait in the benchmarks gives up after this long and reports an error,
// so a lost wake shows up as a failed benchmark, never as a hang.
constexpr std::chrono::milliseconds kWaitDeadline{5000};

// Throws SysError(what, errno) ("... failed: EAGAIN (...)") when r == -1.
long Check(long r, const std::string& what);

// An eventfd (EFD_NONBLOCK | EFD_CLOEXEC) that closes itself. Not copyable.
class RawEventfd {
 public:
  RawEventfd();
  ~RawEventfd();
  RawEventfd(const RawEventfd&) = delete;
  RawEventfd& operator=(const RawEventfd&) = delete;
  int fd() const { return fd_; }
  // write(fd, 1); throws SysError.
  void Add1() const;
  // One 8-byte read; returns the counter, 0 if it was already 0 (EAGAIN).
  std::uint64_t Take() const;

 private:
  int fd_;
};

// Every (backend, kind) pair the final Waker supports here, in a fixed order.
struct WakerCase {
  Backend backend;
  WakerKind kind;
};
std::vector<WakerCase> AllWakerCases();

// "epoll/eventfd", "kqueue/kqueue_user", ...
std::string CaseName(const WakerCase& c);

// The number of descriptors open in this process (/proc/self/fd).
int CountOpenFds();

// The main of every benchmark binary, after it has registered its benchmarks:
// Google Benchmark's flags, the run, and then a check that every descriptor a
// benchmark opened is closed again (a leak prints "LEAK: ..." and returns 1).
//
// Two libraries keep descriptors beyond their objects, by design, and
// `settle` (run before the first count and before the last) puts them in the
// same state both times: the kqueue emulation (loop/port) frees a closed
// kqueue's eventfd only at the next kqueue() call, so RunBenchmarks creates
// and closes one Poll(Backend::kKqueue); libuv opens a process-wide pipe at the
// first uv_loop_init, so round_trip passes a settle that makes one loop.
int RunBenchmarks(int argc, char** argv, void (*settle)() = nullptr);

// Runs `body`; an exception it throws (a SysError naming the call and errno,
// say) ends this benchmark with that message instead of the whole binary.
template <typename Body>
void SkipOnError(benchmark::State& state, Body body) {
  try {
    body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// The environment's ELFS_BENCH_ITERATIONS as a positive count, or 0 when it is
// unset or not a positive number. A benchmark registered with this many
// Iterations() runs exactly that many: ./tools/bench counts a row's system
// calls under strace at two fixed counts and divides the difference.
int FixedIterations();

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
std::uint64_t RaiseFdLimit();

}  // namespace bench
}  // namespace loop

#endif  // TESTS_BENCHMARKS_BENCH_UTIL_H_
