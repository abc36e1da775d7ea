// Question 4: does Poll::Wait get slower with many idle registrations? One
// iteration: make the one active eventfd readable, Poll::Wait (it must report
// that eventfd's token), read it back. 1, 1000 or 10000 other eventfds are
// registered too and never become ready. The write and the read cost the same
// at every size, so a growing time is Wait's. Ratios are to the 1-idle case of
// the same backend; the goal is that they stay ~1.
//
// Ownership: each benchmark owns its eventfds and its Poll; the Poll is
// destroyed first (it is declared last), so the eventfds are closed after
// their registrations are gone with the selector.
// Thread safety: single-threaded.
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "loop/loop.h"
#include "tests/benchmarks/bench_util.h"

namespace loop {
namespace bench {
namespace {

constexpr Token kActive{1};

void WaitWithIdle(benchmark::State& state, Backend backend, int idle) {
  SkipOnError(state, [&] {
    const std::uint64_t limit = RaiseFdLimit();
    if (limit < static_cast<std::uint64_t>(idle) + 64) {
      throw std::runtime_error("RLIMIT_NOFILE is " + std::to_string(limit) +
                               ", too low for " + std::to_string(idle) +
                               " idle eventfds");
    }
    std::vector<std::unique_ptr<RawEventfd>> idle_fds;
    RawEventfd active;
    Poll poll(backend);  // declared after the fds: destroyed before them
    for (int i = 0; i < idle; ++i) {
      idle_fds.push_back(std::make_unique<RawEventfd>());
      poll.registry().Register(idle_fds.back()->fd(),
                               Token{static_cast<std::uint64_t>(i) + 2},
                               Interest::kReadable);
    }
    poll.registry().Register(active.fd(), kActive, Interest::kReadable);
    Events events(64);
    for (auto _ : state) {
      active.Add1();
      poll.Wait(events, kWaitDeadline);
      if (events.size() != 1 || events.begin()->token() != kActive) {
        state.SkipWithError(("Wait reported " + std::to_string(events.size()) +
                             " events, expected exactly the active eventfd's")
                                .c_str());
        break;
      }
      active.Take();
    }
  });
}

}  // namespace
}  // namespace bench
}  // namespace loop

int main(int argc, char** argv) {
  using namespace loop;  // NOLINT: main only
  for (Backend b : AvailableBackends()) {
    for (int idle : {1, 1000, 10000}) {
      benchmark::RegisterBenchmark(
          ("wait_scaling/" + std::string(BackendName(b)) +
           "/idle:" + std::to_string(idle))
              .c_str(),
          [b, idle](benchmark::State& s) { bench::WaitWithIdle(s, b, idle); });
    }
  }
  return loop::bench::RunBenchmarks(argc, argv);
}
