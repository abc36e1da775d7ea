// Lesson 07: the waker suite (lesson 06) on KqueueWaker, which needs a kqueue
// Poll.
#include "lessons/07_kqueue_pipe_waker/kqueue_waker.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "loop/poll.h"
#include "loop/registry.h"
#include "tests/support/waker_suite.h"

// In the global namespace so that gtest names it shortly: "where TypeParam =
// KqueueOnKqueue". EV_CLEAR resets the user event once reported: the loop has
// nothing to drain.
struct KqueueOnKqueue {
  using Waker = loop::KqueueWaker;
  static constexpr loop::Backend kBackend = loop::Backend::kKqueue;
  static constexpr const char* kName = "OnKqueue";
  static constexpr const char* kReadme =
      " See lessons/07_kqueue_pipe_waker/README.md.";
  static void AfterWakeEvent(Waker&) {}
};

namespace loop {
namespace testing {
namespace {

INSTANTIATE_TYPED_TEST_SUITE_P(KqueueWaker, WakerSuite,
                               ::testing::Types<KqueueOnKqueue>, WakerCaseName);

TEST(KqueueWakerTest, RefusesAPollThatIsNotKqueue) {
  const std::vector<Backend> backends = AvailableBackends();
  if (std::find(backends.begin(), backends.end(), Backend::kEpoll) ==
      backends.end()) {
    GTEST_SKIP() << "this system has no epoll, so every Poll here is a kqueue";
  }
  Poll poll(Backend::kEpoll);
  try {
    KqueueWaker waker(poll.registry(), kWakeToken);
    ADD_FAILURE()
        << "a KqueueWaker was built on an epoll Poll: its EVFILT_USER event "
           "would have to live in a kqueue this Poll does not have";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("kKqueue"), std::string::npos)
        << "the error should say which backend is needed; it says: "
        << e.what();
  }
}

}  // namespace
}  // namespace testing
}  // namespace loop
