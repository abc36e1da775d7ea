#include "loop/sys_error.h"

#include <cerrno>
#include <string>

#include "gtest/gtest.h"

namespace loop {
namespace {

TEST(SysError, MessageNamesTheOperationAndTheErrnoOnce) {
  SysError e("epoll_ctl(EPOLL_CTL_ADD, fd 7)", EEXIST);
  EXPECT_EQ(std::string(e.what()),
            "epoll_ctl(EPOLL_CTL_ADD, fd 7) failed: EEXIST (File exists)");
  EXPECT_EQ(e.err(), EEXIST);
  EXPECT_EQ(e.code(), std::errc::file_exists);
}

TEST(SysError, CheckSysThrowsOnlyOnMinusOne) {
  EXPECT_EQ(CheckSys(5, "read"), 5);
  errno = EBADF;
  try {
    CheckSys(-1, "close(42)");
    FAIL() << "CheckSys(-1) must throw";
  } catch (const SysError& e) {
    EXPECT_EQ(e.err(), EBADF);
    EXPECT_EQ(std::string(e.what()),
              "close(42) failed: EBADF (Bad file descriptor)");
  }
}

TEST(ErrnoName, KnownAndUnknownValues) {
  EXPECT_STREQ(ErrnoName(EAGAIN), "EAGAIN");
  EXPECT_STREQ(ErrnoName(ENOENT), "ENOENT");
  EXPECT_STREQ(ErrnoName(99999), "errno 99999");
}

}  // namespace
}  // namespace loop
