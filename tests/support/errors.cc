#include "tests/support/errors.h"

#include "gtest/gtest.h"
#include "loop/sys_error.h"

namespace loop {
namespace testing {

std::optional<CaughtSysError> SysErrorFrom(const std::function<void()>& fn,
                                           const std::string& if_none,
                                           const char* file, int line) {
  try {
    fn();
  } catch (const SysError& e) {
    return CaughtSysError{e.err(), e.what()};
  }
  ADD_FAILURE_AT(file, line) << if_none;
  return std::nullopt;
}

}  // namespace testing
}  // namespace loop
