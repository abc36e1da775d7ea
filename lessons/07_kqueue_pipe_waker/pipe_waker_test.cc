// Lesson 07: the waker suite (lesson 06) on PipeWaker, on every backend, plus
// what only a pipe has: bytes that pile up, a pipe that can be full, a loop
// that must drain.
#include "lessons/07_kqueue_pipe_waker/pipe_waker.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <string>

#include "gtest/gtest.h"
#include "loop/poll.h"
#include "loop/registry.h"
#include "tests/support/waker_suite.h"

namespace loop {
namespace testing {
namespace {

constexpr char kReadme[] = " See lessons/07_kqueue_pipe_waker/README.md.";

// A pipe keeps every byte: the loop drains it after each of the waker's events.
template <Backend kB>
struct PipeOn {
  using Waker = PipeWaker;
  static constexpr Backend kBackend = kB;
  static constexpr const char* kName =
      kB == Backend::kEpoll ? "OnEpoll" : "OnKqueue";
  static constexpr const char* kReadme = ::loop::testing::kReadme;
  static void AfterWakeEvent(Waker& waker) {
    if (!IsNonBlocking(waker.read_fd_for_testing())) {
      ADD_FAILURE() << "the pipe's read end is blocking, so Drain() would "
                       "sleep forever once the pipe is empty (the test did not "
                       "call it). Make the pipe with O_NONBLOCK."
                    << kReadme;
      return;
    }
    waker.Drain();
  }
};

}  // namespace
}  // namespace testing
}  // namespace loop

// The cases are named in the global namespace so that gtest names them
// shortly: "where TypeParam = PipeOnEpoll".
#if defined(__linux__)
struct PipeOnEpoll : loop::testing::PipeOn<loop::Backend::kEpoll> {};
#endif
struct PipeOnKqueue : loop::testing::PipeOn<loop::Backend::kKqueue> {};

namespace loop {
namespace testing {
namespace {

#if defined(__linux__)
using PipeCases = ::testing::Types<PipeOnEpoll, PipeOnKqueue>;
#else
using PipeCases = ::testing::Types<PipeOnKqueue>;
#endif
INSTANTIATE_TYPED_TEST_SUITE_P(PipeWaker, WakerSuite, PipeCases, WakerCaseName);

// Fills the pipe behind the waker's back, up to the point where writes fail,
// and returns how many bytes that took (-1 and a test failure if a write fails
// for another reason than a full pipe).
long FillPipe(int write_fd) {
  long written = 0;
  const char fill[512] = {};
  for (;;) {
    const ssize_t n = write(write_fd, fill, sizeof fill);
    if (n > 0) {
      written += n;
      continue;
    }
    if (errno != EAGAIN) {
      ADD_FAILURE() << "filling the pipe: " << std::strerror(errno);
      return -1;
    }
    char byte = 0;
    if (write(write_fd, &byte, 1) == -1 && errno == EAGAIN) {
      return written;  // Really full.
    }
    ++written;
  }
}

TEST(PipeWakerTest, BothEndsAreNonBlocking) {
  Poll poll;
  PipeWaker waker(poll.registry(), kWakeToken);
  EXPECT_TRUE(IsNonBlocking(waker.write_fd_for_testing()))
      << "the pipe's write end is blocking: when the pipe is full, Wake() "
         "would sleep until the loop drains it, and a loop thread that wakes "
         "itself would never wake up. Make the pipe with O_NONBLOCK."
      << kReadme;
  EXPECT_TRUE(IsNonBlocking(waker.read_fd_for_testing()))
      << "the pipe's read end is blocking: Drain() reads until the pipe is "
         "empty, and on a blocking fd that last read sleeps until the next "
         "Wake(). Make the pipe with O_NONBLOCK."
      << kReadme;
}

TEST(PipeWakerTest, DrainEmptiesThePipe) {
  Poll poll;
  PipeWaker waker(poll.registry(), kWakeToken);
  const int read_fd = waker.read_fd_for_testing();
  // On a blocking read end, Drain() would hang instead of failing.
  ASSERT_TRUE(IsNonBlocking(read_fd)) << "the read end must be O_NONBLOCK; see "
                                         "PipeWakerTest.BothEndsAreNonBlocking";
  const int write_fd = waker.write_fd_for_testing();
  ASSERT_TRUE(IsNonBlocking(write_fd))
      << "the write end must be O_NONBLOCK, or filling the pipe blocks this "
         "test; see PipeWakerTest.BothEndsAreNonBlocking";
  // A full pipe holds more than any sensible read buffer, so one read() is
  // never enough.
  const long written = FillPipe(write_fd);
  ASSERT_GT(written, 0);
  try {
    waker.Drain();
  } catch (const std::exception& e) {
    FAIL() << "Drain() threw \"" << e.what()
           << "\". EAGAIN from read() means the pipe is empty, which is where "
              "Drain() stops: return."
           << kReadme;
  }
  char byte;
  const ssize_t n = read(read_fd, &byte, 1);
  const int err = errno;
  const bool pipe_is_empty = n == -1 && err == EAGAIN;
  EXPECT_TRUE(pipe_is_empty)
      << "after filling the pipe (" << written
      << " bytes) and one Drain(), the pipe still held bytes. Drain() must "
         "read until read() fails with EAGAIN: bytes left behind keep the "
         "pipe readable, the edge-triggered Poll reports nothing new, and once "
         "the pipe is full every Wake() is silently dropped."
      << kReadme;
  EXPECT_NO_THROW(waker.Drain()) << "Drain() on an empty pipe must simply "
                                    "return: EAGAIN means \"nothing to drain\"";
}

TEST(PipeWakerTest, WakeOnAFullPipeIsAlreadyAWake) {
  Poll poll;
  Events events(8);
  PipeWaker waker(poll.registry(), kWakeToken);
  const int write_fd = waker.write_fd_for_testing();
  ASSERT_TRUE(IsNonBlocking(write_fd))
      << "the write end must be O_NONBLOCK, or filling the pipe blocks this "
         "test; see PipeWakerTest.BothEndsAreNonBlocking";
  ASSERT_TRUE(IsNonBlocking(waker.read_fd_for_testing()))
      << "the read end must be O_NONBLOCK; see "
         "PipeWakerTest.BothEndsAreNonBlocking";
#if defined(F_SETPIPE_SZ)
  // Smaller pipe, shorter test (Linux rounds this up to one page).
  static_cast<void>(fcntl(write_fd, F_SETPIPE_SZ, 4096));
#endif
  const long written = FillPipe(write_fd);
  ASSERT_GT(written, 0);
  try {
    waker.Wake();
    waker.Wake();
  } catch (const std::exception& e) {
    FAIL() << "Wake() on a full pipe threw \"" << e.what()
           << "\". A full pipe is readable and not yet drained, so a wake is "
              "already pending: Wake() should treat EAGAIN as success."
           << kReadme;
  }
  poll.Wait(events, kWakeDeadline);
  ASSERT_TRUE(HasToken(events, kWakeToken, Event::kReadable))
      << "a full pipe (" << written
      << " bytes) produced no event for the waker: is "
      << "its read end registered for reading under the waker's token?";
  waker.Drain();
  waker.Wake();
  poll.Wait(events, kWakeDeadline);
  EXPECT_TRUE(HasToken(events, kWakeToken, Event::kReadable))
      << "after the full pipe was drained, Wake() produced no event. The "
         "loop's Drain() empties the pipe; the next byte makes it readable "
         "again, which is a new edge."
      << kReadme;
}

}  // namespace
}  // namespace testing
}  // namespace loop
