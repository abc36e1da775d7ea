// Checking that a call fails with SysError, without a try/catch in every test.
//
//   auto error = SysErrorFrom([&] { epoll.Add(fd, EPOLLIN, 0); },
//                             "adding an fd twice must throw EEXIST");
//   if (error) EXPECT_EQ(error->err, EEXIST) << error->what;
//
// Thread-safe as gtest assertions are (any thread may report a failure).
#ifndef TESTS_SUPPORT_ERRORS_H_
#define TESTS_SUPPORT_ERRORS_H_

#include <functional>
#include <optional>
#include <string>

namespace loop {
namespace testing {

// What a SysError said: its errno value and its whole what().
struct CaughtSysError {
  int err;
  std::string what;
};

// Runs `fn` and returns the SysError it throws. If `fn` returns normally, the
// test fails with `if_none` (what should have been thrown, and why) and the
// result is empty. Anything else `fn` throws, such as a starter's TODO,
// propagates to gtest, which reports it.
//
// The failure is reported at the caller's file and line (gcc and clang fill in
// the defaults there), so a learner is sent to the test, not to this helper.
std::optional<CaughtSysError> SysErrorFrom(const std::function<void()>& fn,
                                           const std::string& if_none,
                                           const char* file = __builtin_FILE(),
                                           int line = __builtin_LINE());

}  // namespace testing
}  // namespace loop

#endif  // TESTS_SUPPORT_ERRORS_H_
