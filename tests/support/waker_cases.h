// Every (backend, wake source kind) pair that works here, for tests that run
// once per pair: "eventfd_on_epoll", "pipe_on_epoll", "eventfd_on_kqueue",
// "kqueue_user_on_kqueue", "pipe_on_kqueue" on Linux (kqueue is the emulation
// in loop/port), the kqueue ones without eventfd on macOS/BSD.
//
//   INSTANTIATE_TEST_SUITE_P(Kinds, MySuite,
//                            ::testing::ValuesIn(testing::AllWakerCases()),
//                            testing::WakerCaseTestName);
//
// Header only, on purpose: it names the unified Waker (lesson 09 on) through
// "loop/waker.h", and the test that includes it decides which Waker that is
// (the learner's or the library's) by its own deps. Pure functions;
// thread-safe.
#ifndef TESTS_SUPPORT_WAKER_CASES_H_
#define TESTS_SUPPORT_WAKER_CASES_H_

#include <ostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "loop/selector.h"
#include "loop/waker.h"

namespace loop {
namespace testing {

struct WakerCase {
  Backend backend;
  WakerKind kind;
};

// "eventfd_on_epoll" and so on.
inline std::string WakerCaseName(const WakerCase& c) {
  return std::string(WakerKindName(c.kind)) + "_on_" + BackendName(c.backend);
}

inline std::ostream& operator<<(std::ostream& os, const WakerCase& c) {
  return os << WakerCaseName(c);
}

inline std::vector<WakerCase> AllWakerCases() {
  std::vector<WakerCase> cases;
  for (Backend backend : AvailableBackends()) {
    for (WakerKind kind : AvailableWakerKinds(backend)) {
      cases.push_back({backend, kind});
    }
  }
  return cases;
}

// For INSTANTIATE_TEST_SUITE_P: names each case WakerCaseName(case).
inline std::string WakerCaseTestName(
    const ::testing::TestParamInfo<WakerCase>& info) {
  return WakerCaseName(info.param);
}

}  // namespace testing
}  // namespace loop

#endif  // TESTS_SUPPORT_WAKER_CASES_H_
