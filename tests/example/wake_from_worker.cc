// A worker thread wakes a loop that polls with no timeout: the seed's "notify
// the main thread", on the finished library. Prints the worker's result once
// the loop has seen it, and exits 0.
#include <atomic>
#include <cstdio>
#include <optional>
#include <thread>

#include "loop/loop.h"

int main() {
  constexpr loop::Token kWake{1};
  loop::Poll poll;
  loop::Events events(8);
  loop::Waker waker(poll.registry(), kWake,
                    loop::AvailableWakerKinds(poll.backend())[0]);
  std::atomic<int> result{0};
  // The worker owns a copy of the handle: the wake survives it going away.
  std::thread worker([handle = waker, &result] {
    result.store(42, std::memory_order_release);
    handle.Wake();
  });
  for (;;) {
    poll.Wait(events, std::nullopt);  // No timeout: only the wake returns.
    bool woken = false;
    for (const loop::Event& e : events) woken |= e.token() == kWake;
    if (!woken) continue;  // Wait drained the Waker's source already.
    if (result.load(std::memory_order_acquire) == 42) break;
  }
  worker.join();
  std::printf("the loop saw the worker's result: %d\n", result.load());
  return 0;
}
