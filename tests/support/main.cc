// gtest main for every test in the repository.
//
// Each test runs under a Watchdog: if it is still running after
// LOOP_TEST_DEADLINE_SECONDS (default 30), the process ends with a message
// naming the test, instead of hanging until Bazel's timeout.
//
// A test that crashes (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, or SIGPIPE
// when nothing ignores it) gets a message
// naming it, the signal and what to try, instead of a log that stops after
// "[ RUN ]". The handler is async-signal-safe: it only write()s text prepared
// before the test started, then re-raises the signal with its default action,
// so the exit status is still a crash. Under ASan or TSan it is not installed:
// their own reports say more (and name the line).
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "loop/sys_error.h"
#include "tests/support/deadline.h"
#include "tests/support/sanitized.h"

namespace {

// What the crash handler prints; filled in before each test, read in the
// handler.
char crash_test_name[512] = "(before the first test)";
char crash_advice[1024] = "";

void WriteAll(const char* text) {
  size_t left = std::strlen(text);
  while (left > 0) {
    ssize_t n = write(STDERR_FILENO, text, left);
    if (n <= 0) return;  // Nothing better to do inside a signal handler.
    text += n;
    left -= static_cast<size_t>(n);
  }
}

const char* SignalName(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV (a bad memory access: a null or dangling pointer, "
             "or an object used after it was destroyed)";
    case SIGBUS:
      return "SIGBUS (a bad memory access)";
    case SIGABRT:
      return "SIGABRT (abort(): a failed assert, std::terminate, or an "
             "exception thrown from a destructor or a thread)";
    case SIGFPE:
      return "SIGFPE (an arithmetic error such as division by zero)";
    case SIGPIPE:
      return "SIGPIPE (a write or send to a socket or pipe whose reader has "
             "gone: send() with MSG_NOSIGNAL, or SIGPIPE ignored, makes it an "
             "EPIPE error instead)";
    case SIGILL:
      return "SIGILL (an illegal instruction, often the end of a function "
             "that returns a value but has no return)";
    default:
      return "a fatal signal";
  }
}

// Unused under the sanitizers, whose own reports say more.
[[maybe_unused]] void OnCrash(int sig) {
  WriteAll("\nCRASH: ");
  WriteAll(crash_test_name);
  WriteAll(" died of ");
  WriteAll(SignalName(sig));
  WriteAll(".\n");
  WriteAll(crash_advice);
  signal(sig, SIG_DFL);
  raise(sig);
}

void InstallCrashHandler() {
#ifndef LOOP_TEST_SANITIZED
  const char* target = std::getenv("TEST_TARGET");
  std::string label = target != nullptr ? target : "//lessons/NN_name:all";
  std::string advice =
      "The test binary stopped here, so the tests after this one did not "
      "run. To see the file and line: bazel test --config=asan " +
      label +
      " (AddressSanitizer names the bad access); for a race between "
      "threads: bazel test --config=tsan " +
      label + "\n";
  std::strncpy(crash_advice, advice.c_str(), sizeof(crash_advice) - 1);
  struct sigaction action {};
  action.sa_handler = OnCrash;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGPIPE}) {
    struct sigaction old {};
    // A program that ignores SIGPIPE (as a server should) keeps ignoring it.
    if (sig == SIGPIPE && sigaction(sig, nullptr, &old) == 0 &&
        old.sa_handler == SIG_IGN) {
      continue;
    }
    if (sigaction(sig, &action, nullptr) == -1) {
      std::fprintf(stderr,
                   "warning: sigaction(%d) failed (%s): a crash will not be "
                   "explained\n",
                   sig, loop::ErrnoName(errno));
    }
  }
#endif
}

class WatchdogListener : public ::testing::EmptyTestEventListener {
 public:
  explicit WatchdogListener(int seconds) : seconds_(seconds) {}

  void OnTestStart(const ::testing::TestInfo& info) override {
    std::string name = std::string(info.test_suite_name()) + "." + info.name();
    std::strncpy(crash_test_name, name.c_str(), sizeof(crash_test_name) - 1);
    watchdog_ = std::make_unique<loop::testing::Watchdog>(
        std::chrono::seconds(seconds_),
        "DEADLINE: " + name + " was still running after " +
            std::to_string(seconds_) +
            " s, so it was stopped. Some wait in it never finished; in this "
            "workshop that usually means a lost wake or a poll() with nothing "
            "to report. The test's own deadlines should have caught this: "
            "please report it.");
  }
  void OnTestEnd(const ::testing::TestInfo&) override { watchdog_.reset(); }

 private:
  int seconds_;
  std::unique_ptr<loop::testing::Watchdog> watchdog_;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  InstallCrashHandler();
  int seconds = 30;
  if (const char* env = std::getenv("LOOP_TEST_DEADLINE_SECONDS")) {
    seconds = std::atoi(env) > 0 ? std::atoi(env) : seconds;
  }
  ::testing::UnitTest::GetInstance()->listeners().Append(
      new WatchdogListener(seconds));
  return RUN_ALL_TESTS();
}
