// Stress on the final library: many threads waking a loop that polls with no
// timeout (the last wake is always seen), handles dropped in seeded random
// orders, and 10k Poll + Waker cycles with handles outliving their Poll
// (no fd leak).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "loop/loop.h"
#include "tests/support/deadline.h"
#include "tests/support/events.h"
#include "tests/support/fds.h"
#include "tests/support/wakes.h"

namespace loop {
namespace {

using std::chrono::milliseconds;
using testing::FinishesWithin;
using testing::HasToken;
using testing::kWakeToken;
using testing::Latch;

constexpr Token kRescueToken{2};
constexpr milliseconds kDeadline{5000};

struct Case {
  Backend backend;
  WakerKind kind;
};

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (Backend b : AvailableBackends()) {
    for (WakerKind k : AvailableWakerKinds(b)) cases.push_back({b, k});
  }
  return cases;
}

std::string NameOf(const ::testing::TestParamInfo<Case>& info) {
  return std::string(WakerKindName(info.param.kind)) + "_on_" +
         BackendName(info.param.backend);
}

class Stress : public ::testing::TestWithParam<Case> {};
INSTANTIATE_TEST_SUITE_P(Kinds, Stress, ::testing::ValuesIn(AllCases()),
                         NameOf);

TEST_P(Stress, ManyThreadsWakingTheLastWakeIsSeen) {
  constexpr int kThreads = 8;
  constexpr int kWakesPerThread = 2000;
  constexpr std::uint64_t kTotal = kThreads * kWakesPerThread;
  Poll poll(GetParam().backend);
  Events events(16);
  Waker waker(poll.registry(), kWakeToken, GetParam().kind);
  const auto rescue = testing::RawPipe();
  poll.registry().Register(rescue.first, kRescueToken, Interest::kReadable);
  std::atomic<std::uint64_t> sequence{0};
  Latch start(kThreads);
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, handle = waker] {
      start.ArriveAndWait();
      for (int i = 0; i < kWakesPerThread; ++i) {
        sequence.fetch_add(1, std::memory_order_release);
        handle.Wake();
      }
    });
  }
  std::uint64_t observed = 0;
  bool rescued = false;
  const bool in_time = FinishesWithin(
      kDeadline,
      [&] {
        while (observed < kTotal) {
          poll.Wait(events, std::nullopt);
          if (HasToken(events, kRescueToken)) {
            rescued = true;
            return;
          }
          if (HasToken(events, kWakeToken)) {
            // Wait drained the source before it returned: a wake after this
            // read leaves a new event.
            observed = sequence.load(std::memory_order_acquire);
          }
        }
      },
      [&] { (void)!write(rescue.second, "r", 1); });
  for (std::thread& t : producers) t.join();
  poll.registry().Deregister(rescue.first);
  EXPECT_EQ(testing::CloseRaw(rescue.first) + testing::CloseRaw(rescue.second),
            "");
  EXPECT_TRUE(in_time && !rescued && observed == kTotal)
      << "wake lost under contention: " << kThreads << " threads each bumped "
      << "the sequence then woke, " << kWakesPerThread << " times; the loop, "
      << "polling with no timeout, last observed sequence " << observed
      << " of " << kTotal << " and then saw no wake for " << kDeadline.count()
      << " ms. Every Wake() after the loop drained must produce a new event.";
}

TEST_P(Stress, RandomDropOrdersLoseNoWake) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (the drop order comes from std::mt19937(seed))");
  std::mt19937 random(seed);
  for (int round = 0; round < 20; ++round) {
    Poll poll(GetParam().backend);
    Events events(16);
    std::vector<std::unique_ptr<Waker>> handles;
    handles.push_back(
        std::make_unique<Waker>(poll.registry(), kWakeToken, GetParam().kind));
    for (int i = 0; i < 31; ++i) {
      handles.push_back(std::make_unique<Waker>(*handles[0]));
    }
    std::shuffle(handles.begin(), handles.end(), random);
    const std::size_t waking = random() % handles.size();
    ASSERT_EQ(handles[waking]->Wake(), WakeResult::kWoken);
    // Drop every handle, the waking one among them, in the shuffled order.
    handles.clear();
    const auto end = testing::Clock::now() + kDeadline;
    bool seen = false;
    while (!seen && testing::Clock::now() < end) {
      poll.Wait(events, milliseconds(100));
      seen = HasToken(events, kWakeToken);
    }
    ASSERT_TRUE(seen) << "round " << round << ": handle " << waking
                      << " woke, then all 32 handles were dropped in random "
                      << "order, and the Poll never reported the wake: the "
                      << "Poll's own share of the source must keep it.";
  }
}

TEST_P(Stress, TenThousandCyclesLeakNoDescriptor) {
  constexpr int kCycles = 10000;
  std::vector<Waker> survivors;
  auto cycle = [&](bool keep) {
    Poll poll(GetParam().backend);
    Waker waker(poll.registry(), kWakeToken, GetParam().kind);
    waker.Wake();
    if (keep) survivors.push_back(waker);  // Outlives its Poll.
  };
  // The kqueue emulation frees a dead kqueue's state at the next kqueue(), so
  // count after one cycle.
  cycle(false);
  const int before = testing::CountOpenFds();
  for (int i = 0; i < kCycles; ++i) {
    cycle(i % 1000 == 0);
    if (i % 1000 == 0) {
      EXPECT_EQ(survivors.back().Wake(), WakeResult::kPollGone)
          << "a handle whose Poll is gone must not signal anything";
    }
  }
  const std::size_t kept = survivors.size();
  survivors.clear();
  cycle(false);
  const int after = testing::CountOpenFds();
  EXPECT_EQ(after, before)
      << kCycles << " cycles of Poll + Waker (with " << kept << " handles "
      << "outliving their Poll, then dropped) changed the open descriptors "
      << "from " << before << " to " << after << ": the last owner of a wake "
      << "source must close every descriptor it holds.";
}

}  // namespace
}  // namespace loop
