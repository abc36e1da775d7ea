// gtest main for every test in the repository. Each test runs under a Watchdog:
// if it is still running after LOOP_TEST_DEADLINE_SECONDS (default 30), the
// process ends with a message naming the test, instead of hanging until Bazel's
// timeout.
#include <cstdlib>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tools/testing/deadline.h"

namespace {

class WatchdogListener : public ::testing::EmptyTestEventListener {
 public:
  explicit WatchdogListener(int seconds) : seconds_(seconds) {}

  void OnTestStart(const ::testing::TestInfo& info) override {
    std::string name = std::string(info.test_suite_name()) + "." + info.name();
    watchdog_ = std::make_unique<loop::testing::Watchdog>(
        std::chrono::seconds(seconds_),
        "DEADLINE: " + name + " was still running after " +
            std::to_string(seconds_) +
            " s, so it was stopped. Some wait in it never finished; in this "
            "workshop "
            "that usually means a lost wake or a poll() with nothing to "
            "report. The "
            "test's own deadlines should have caught this: please report it.");
  }
  void OnTestEnd(const ::testing::TestInfo&) override { watchdog_.reset(); }

 private:
  int seconds_;
  std::unique_ptr<loop::testing::Watchdog> watchdog_;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int seconds = 30;
  if (const char* env = std::getenv("LOOP_TEST_DEADLINE_SECONDS")) {
    seconds = std::atoi(env) > 0 ? std::atoi(env) : seconds;
  }
  ::testing::UnitTest::GetInstance()->listeners().Append(
      new WatchdogListener(seconds));
  return RUN_ALL_TESTS();
}
