// The event loop's promise under load, on the finished library (//:loop), for
// every (backend, Waker kind): 8 producer threads post 100,000 functions each
// while the loop also runs timers (set from the loop thread as it goes) and
// offloads (started by the producers). Every posted function, timer and done
// callback runs exactly once, on the loop thread; each producer's posts run
// in the order it made them.
//
// Ownership: each test owns its loop and threads and joins them. The counts
// are touched only on the loop thread, and read after Run() has returned.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "loop/loop.h"
#include "tests/support/deadline.h"
#include "tests/support/waker_cases.h"

namespace loop {
namespace testing {
namespace {

constexpr int kProducers = 8;
constexpr int kPostsEach = 100000;
constexpr int kOffloadEvery =
    1000;                      // a producer offloads once per this many posts
constexpr int kTimers = 2000;  // set one per posted batch, until this many

class EventLoopContract : public ::testing::TestWithParam<WakerCase> {};

TEST_P(EventLoopContract, EveryPostTimerAndOffloadRunsOnceOnTheLoopThread) {
  EventLoop::Options options;
  options.backend = GetParam().backend;
  options.waker_kind = GetParam().kind;
  options.workers = 2;
  EventLoop loop(options);

  // Loop thread only.
  std::vector<int> last(kProducers, -1);
  std::vector<std::uint8_t> post_runs(
      static_cast<size_t>(kProducers) * kPostsEach, 0);
  std::vector<std::uint8_t> timer_runs(kTimers, 0);
  std::vector<std::uint8_t> done_runs(
      static_cast<size_t>(kProducers) * (kPostsEach / kOffloadEvery), 0);
  int out_of_order = 0, wrong_thread = 0, timers_set = 0, timers_early = 0,
      dones_failed = 0;
  std::uint64_t posts_run = 0, timers_run = 0, dones_run = 0;
  std::thread::id loop_id;

  constexpr std::uint64_t kPosts =
      static_cast<std::uint64_t>(kProducers) * kPostsEach;
  constexpr std::uint64_t kDones =
      static_cast<std::uint64_t>(kProducers) * (kPostsEach / kOffloadEvery);
  auto maybe_stop = [&] {
    if (posts_run == kPosts &&
        timers_run == static_cast<std::uint64_t>(kTimers) &&
        dones_run == kDones) {
      loop.Stop();
    }
  };
  auto on_loop = [&] {
    if (std::this_thread::get_id() != loop_id) ++wrong_thread;
  };

  Latch started(kProducers + 1);
  std::vector<std::thread> producers;
  loop.Post([&] { loop_id = std::this_thread::get_id(); });
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      if (!started.ArriveAndWait()) return;  // reported below
      for (int i = 0; i < kPostsEach; ++i) {
        loop.Post([&, p, i] {
          on_loop();
          ++post_runs[static_cast<size_t>(p) * kPostsEach + i];
          if (i <= last[p]) ++out_of_order;
          last[p] = i;
          ++posts_run;
          // Timers set from the loop thread while posts stream in.
          if (i % 400 == 0 && timers_set < kTimers) {
            const int t = timers_set++;
            const Clock::time_point deadline =
                Clock::now() + std::chrono::microseconds(t % 3000);
            loop.RunAt(deadline, [&, t, deadline] {
              on_loop();
              if (Clock::now() < deadline) ++timers_early;
              ++timer_runs[t];
              ++timers_run;
              maybe_stop();
            });
          }
          maybe_stop();
        });
        if (i % kOffloadEvery == 0) {
          const size_t d =
              static_cast<size_t>(p) * (kPostsEach / kOffloadEvery) +
              i / kOffloadEvery;
          loop.Offload([d] { return d; },
                       [&, d](Result<size_t> r) {
                         on_loop();
                         if (!r.ok() || r.value() != d) ++dones_failed;
                         ++done_runs[d];
                         ++dones_run;
                         maybe_stop();
                       });
        }
      }
    });
  }
  Latch returned(1);
  std::thread runner([&] {
    loop.Run();
    returned.CountDown();
  });
  const bool all_started = started.ArriveAndWait();
  for (std::thread& t : producers) t.join();
  const bool finished = returned.Wait(std::chrono::seconds(120));
  if (!finished) loop.Stop();
  runner.join();
  ASSERT_TRUE(all_started) << "the producers did not all start within 5 s";
  ASSERT_TRUE(finished) << "Run() did not return within 120 s: ran "
                        << posts_run << " of " << kPosts << " posts, "
                        << timers_run << " of " << kTimers << " timers, "
                        << dones_run << " of " << kDones << " offloads";

  EXPECT_EQ(timers_set, kTimers);
  EXPECT_EQ(out_of_order, 0) << "a producer's posts ran out of order";
  EXPECT_EQ(wrong_thread, 0) << "callbacks ran off the loop thread";
  EXPECT_EQ(timers_early, 0) << "timers fired before their deadline";
  EXPECT_EQ(dones_failed, 0) << "an offload's done got the wrong result";
  auto count_not_once = [](const std::vector<std::uint8_t>& runs) {
    int n = 0;
    for (std::uint8_t r : runs) n += (r != 1);
    return n;
  };
  EXPECT_EQ(count_not_once(post_runs), 0)
      << "posts that did not run exactly once";
  EXPECT_EQ(count_not_once(timer_runs), 0)
      << "timers that did not run exactly once";
  EXPECT_EQ(count_not_once(done_runs), 0)
      << "offloads whose done did not run exactly once";
}

INSTANTIATE_TEST_SUITE_P(Kinds, EventLoopContract,
                         ::testing::ValuesIn(AllWakerCases()),
                         WakerCaseTestName);

}  // namespace
}  // namespace testing
}  // namespace loop
