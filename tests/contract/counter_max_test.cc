// Lesson 06's WakeAtCounterMaximumStillWakes, on the final Waker: at the
// eventfd counter's maximum, Wake() must reset the counter and write again, or
// an edge-triggered loop that already consumed the readiness never hears of it.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "loop/loop.h"
#include "tests/support/fds.h"

namespace loop {
namespace {

TEST(FinalWakerEventfd, WakeAtCounterMaximumStillWakes) {
#ifndef __linux__
  GTEST_SKIP() << "eventfd and epoll are Linux-only; a kqueue Waker has no "
                  "counter to fill";
#endif
  constexpr Token kToken{3};
  Poll poll(Backend::kEpoll);
  Events events(8);
  const std::set<int> before = testing::OpenFdNumbers();
  Waker waker(poll.registry(), kToken, WakerKind::kEventfd);
  const std::set<int> after = testing::OpenFdNumbers();
  std::vector<int> opened;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(opened));
  ASSERT_EQ(opened.size(), 1u) << "an eventfd Waker opens one fd";
  const std::uint64_t max = 0xfffffffffffffffe;
  ASSERT_EQ(write(opened[0], &max, sizeof max), 8);
  // The edge-triggered loop consumes the event without reading the counter.
  poll.Wait(events, std::chrono::milliseconds(2000));
  ASSERT_FALSE(events.empty());
  ASSERT_EQ(waker.Wake(), WakeResult::kWoken);
  poll.Wait(events, std::chrono::milliseconds(500));
  EXPECT_FALSE(events.empty())
      << "wake lost at the eventfd counter's maximum: Wake() returned kWoken, "
         "but its write failed with EAGAIN and re-queued nothing, and the "
         "loop had already consumed the earlier event. Drain, then write "
         "again (solutions/06_eventfd_waker/eventfd_waker.cc).";
}

}  // namespace
}  // namespace loop
