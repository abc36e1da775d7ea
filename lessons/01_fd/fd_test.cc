// Lesson 01: what an owner of a file descriptor must do.
//
// These tests judge Fd with raw system calls (tests/support/fds.h), never with
// Fd itself: "is fd 5 still open?" is asked of the kernel.
#include "loop/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loop/sys_error.h"
#include "tests/support/errors.h"
#include "tests/support/fds.h"

namespace loop {
namespace {

using ::loop::testing::CloseRaw;
using ::loop::testing::CountOpenFds;
using ::loop::testing::IsCloexec;
using ::loop::testing::IsNonBlocking;
using ::loop::testing::IsOpen;
using ::loop::testing::RawPipe;
using ::loop::testing::RawSocketPair;
using ::loop::testing::SysErrorFrom;
using ::testing::HasSubstr;

constexpr char kReadme[] = " (see lessons/01_fd/README.md)";

// Closes, at the end of a test, every listed number that is still open, so that
// a test failing half-way (or an Fd that forgot to close) leaves nothing behind
// for the next test. Every fd a test opens is meant to be closed by its end.
class Leftovers {
 public:
  Leftovers() = default;
  explicit Leftovers(std::vector<int> fds) : fds_(std::move(fds)) {}
  void Add(int fd) { fds_.push_back(fd); }
  ~Leftovers() {
    for (int fd : fds_) {
      if (fd >= 0 && IsOpen(fd)) close(fd);
    }
  }

 private:
  std::vector<int> fds_;
};

// Collects what is written to stderr (fd 2) while it lives. Releases the
// capture even when the code under test throws (a TODO), so the next test can
// capture again. Starting a capture opens descriptors of its own.
class StderrCapture {
 public:
  StderrCapture() { ::testing::internal::CaptureStderr(); }
  ~StderrCapture() {
    if (!taken_) ::testing::internal::GetCapturedStderr();
  }
  std::string Take() {
    taken_ = true;
    return ::testing::internal::GetCapturedStderr();
  }

 private:
  bool taken_ = false;
};

// Writes one byte to `write_fd` and reads it back from `read_fd`.
bool Connected(int write_fd, int read_fd) {
  char out = 'x';
  char in = 0;
  return write(write_fd, &out, 1) == 1 && read(read_fd, &in, 1) == 1 &&
         in == 'x';
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

TEST(FdTest, DefaultIsEmptyAndExplicitOwnsTheGivenFd) {
  Fd empty;
  EXPECT_EQ(empty.get(), -1);
  EXPECT_FALSE(empty.valid());
  EXPECT_FALSE(static_cast<bool>(empty));

  auto [r, w] = RawPipe();
  Leftovers leftovers({r, w});
  Fd fd(r);
  EXPECT_EQ(fd.get(), r);
  EXPECT_TRUE(fd.valid());
  EXPECT_TRUE(static_cast<bool>(fd));
}

TEST(FdTest, ClosesOnDestruction) {
  auto [r, w] = RawPipe();
  Leftovers leftovers({r, w});
  { Fd fd(r); }
  EXPECT_FALSE(IsOpen(r)) << "fd " << r
                          << " is still open after the Fd that owned it was "
                             "destroyed. ~Fd() must close() the descriptor it "
                             "owns; otherwise every Fd leaks one"
                          << kReadme;
}

TEST(FdTest, MoveConstructionLeavesTheSourceEmptyAndDoesNotClose) {
  auto [r, w] = RawPipe();
  Leftovers leftovers({r, w});
  std::optional<Fd> source(std::in_place, r);
  Fd target(std::move(*source));
  EXPECT_EQ(source->get(), -1)
      << "after Fd target(std::move(source)), source must be empty (-1); "
      << "otherwise source and target both think they own fd " << r
      << " and both would close it" << kReadme;
  EXPECT_EQ(target.get(), r)
      << "Fd target(std::move(source)) must take over source's fd " << r;
  source.reset();  // Destroying the moved-from Fd must not close anything.
  EXPECT_TRUE(IsOpen(r)) << "fd " << r
                         << " was closed by the move or by destroying the "
                         << "moved-from Fd; it belongs to target now"
                         << kReadme;
}

TEST(FdTest, MoveAssignmentClosesTheOldFd) {
  auto [r, w] = RawPipe();
  Leftovers leftovers({r, w});
  Fd target(r);
  Fd source(w);
  target = std::move(source);
  EXPECT_FALSE(IsOpen(r))
      << "target = std::move(source) must close target's old fd " << r
      << " first: nobody else owns it, so it would leak" << kReadme;
  EXPECT_EQ(target.get(), w) << "target must now own source's fd " << w;
  EXPECT_EQ(source.get(), -1) << "source must be empty after the move";
  EXPECT_TRUE(IsOpen(w)) << "the moved fd " << w << " must stay open";
}

TEST(FdTest, SelfMoveAssignmentKeepsTheFd) {
  auto [r, w] = RawPipe();
  Leftovers leftovers({r, w});
  Fd fd(r);
  Fd& alias = fd;  // Hides the self-move from the compiler's warning.
  fd = std::move(alias);
  EXPECT_EQ(fd.get(), r)
      << "fd = std::move(fd) must leave fd as it was; check for this == &other "
      << "before closing anything" << kReadme;
  EXPECT_TRUE(IsOpen(r)) << "self-move-assignment closed fd " << r << kReadme;
}

TEST(FdTest, ReleaseGivesUpOwnershipWithoutClosing) {
  auto [r, w] = RawPipe();
  Leftovers leftovers({r, w});
  int released = -1;
  {
    Fd fd(r);
    released = fd.release();
    EXPECT_EQ(fd.get(), -1)
        << "after release() the Fd must be empty" << kReadme;
  }
  EXPECT_EQ(released, r) << "release() must return the fd it owned" << kReadme;
  EXPECT_TRUE(IsOpen(r))
      << "fd " << r
      << " was closed, but release() hands it back to the caller: "
      << "neither release() nor ~Fd() may close it afterwards" << kReadme;
}

TEST(FdTest, ResetClosesTheOldFdAndOwnsTheNewOne) {
  auto [r, w] = RawPipe();
  Leftovers leftovers({r, w});
  Fd fd(r);
  fd.reset(w);
  EXPECT_FALSE(IsOpen(r)) << "reset(" << w << ") must close the old fd " << r
                          << kReadme;
  EXPECT_EQ(fd.get(), w) << "after reset(" << w << ") the Fd must own " << w;
  EXPECT_TRUE(IsOpen(w));
  fd.reset();
  EXPECT_FALSE(IsOpen(w)) << "reset() with no argument must close fd " << w
                          << kReadme;
  EXPECT_EQ(fd.get(), -1) << "reset() with no argument must leave it empty";
}

// The double close that unique ownership prevents: once a number is closed, the
// kernel hands it to the next open(), pipe(), socket()... of any thread.
TEST(FdTest, NoDoubleCloseOfAReusedNumber) {
  auto [r, w] = RawPipe();
  Leftovers leftovers({r, w});
  std::optional<Fd> fd(std::in_place, r);
  int released = fd->release();
  ASSERT_EQ(released, r) << "release() must return the fd it owned" << kReadme;
  ASSERT_EQ(CloseRaw(released), "");
  // Reuse the number on purpose: F_DUPFD picks the lowest free number >= r,
  // which is r itself now. This is what another thread's open() would do.
  int reused = fcntl(w, F_DUPFD_CLOEXEC, r);
  leftovers.Add(reused);
  ASSERT_EQ(reused, r) << "test setup: expected the kernel to reuse number "
                       << r;
  fd.reset();  // Destroy the Fd.
  EXPECT_TRUE(IsOpen(reused))
      << "destroying an Fd after release() closed fd " << reused
      << ", which now belongs to someone else (here a dup of the pipe). "
      << "release() must make the Fd forget the number" << kReadme;
}

TEST(FdTest, DestructorReportsAFailedCloseOnStderr) {
  // Capture first: capturing opens descriptors of its own, which must not take
  // the number we are about to close.
  StderrCapture capture;
  auto [r, w] = RawPipe();
  std::string closed = CloseRaw(w);
  { Fd fd(w); }  // w is already closed: close() fails with EBADF.
  std::string err = Lower(capture.Take());
  CloseRaw(r);
  ASSERT_EQ(closed, "");
  EXPECT_THAT(err, HasSubstr("ebadf"))
      << "destroying an Fd whose fd " << w << " was already closed must "
      << "report the failed close() on stderr with the errno name (EBADF); "
      << "a destructor cannot throw, but it must not stay silent" << kReadme;
  EXPECT_THAT(err, HasSubstr("double close"))
      << "EBADF from close() almost always means a double close; the message "
      << "should say \"double close\" so the reader knows what to look for"
      << kReadme;
}

TEST(FdTest, DuplicateGivesANewCloexecFdForTheSameFile) {
  auto [r, w] = RawPipe();
  Leftovers leftovers({r, w});
  Fd original(w);
  Fd copy = original.Duplicate();
  leftovers.Add(copy.get());
  EXPECT_TRUE(copy.valid());
  EXPECT_NE(copy.get(), w) << "Duplicate() must return a new descriptor";
  EXPECT_TRUE(IsCloexec(copy.get()))
      << "Duplicate() must return a close-on-exec fd: use F_DUPFD_CLOEXEC, "
      << "not dup()" << kReadme;
  EXPECT_TRUE(Connected(copy.get(), r))
      << "a byte written to the duplicate did not come out of the pipe: it "
      << "must refer to the same open file as the original";
  copy.reset();
  EXPECT_TRUE(IsOpen(w)) << "closing the duplicate must not close the original";
}

TEST(FdTest, DuplicateOfAnEmptyFdThrowsSysError) {
  Fd empty;
  if (auto error = SysErrorFrom(
          [&] { Fd copy = empty.Duplicate(); },
          std::string("Duplicate() of an empty Fd returned normally instead "
                      "of throwing SysError (EBADF)") +
              kReadme)) {
    EXPECT_EQ(error->err, EBADF) << error->what;
  }
}

TEST(FdTest, MakePipeGivesConnectedCloexecEnds) {
  Leftovers leftovers;  // Declared first, so it goes after the Fds it checks.
  Pipe pipe = MakePipe();
  leftovers.Add(pipe.read.get());
  leftovers.Add(pipe.write.get());
  ASSERT_TRUE(pipe.read.valid() && pipe.write.valid());
  EXPECT_TRUE(IsCloexec(pipe.read.get()))
      << "MakePipe(): the read end must be close-on-exec (pipe2 with "
      << "O_CLOEXEC)" << kReadme;
  EXPECT_TRUE(IsCloexec(pipe.write.get()))
      << "MakePipe(): the write end must be close-on-exec (pipe2 with "
      << "O_CLOEXEC)" << kReadme;
  EXPECT_FALSE(IsNonBlocking(pipe.read.get()))
      << "MakePipe() without flags must give blocking ends";
  EXPECT_TRUE(Connected(pipe.write.get(), pipe.read.get()))
      << "a byte written to pipe.write did not come out of pipe.read";
}

TEST(FdTest, MakePipePassesItsFlags) {
  Leftovers leftovers;  // Declared first, so it goes after the Fds it checks.
  Pipe pipe = MakePipe(O_NONBLOCK);
  leftovers.Add(pipe.read.get());
  leftovers.Add(pipe.write.get());
  EXPECT_TRUE(IsNonBlocking(pipe.read.get()) && IsNonBlocking(pipe.write.get()))
      << "MakePipe(O_NONBLOCK) must give non-blocking ends: pass the flags to "
      << "pipe2 as well as O_CLOEXEC" << kReadme;
  EXPECT_TRUE(IsCloexec(pipe.read.get()) && IsCloexec(pipe.write.get()));
}

TEST(FdTest, MakeSocketPairGivesConnectedCloexecEnds) {
  Leftovers leftovers;  // Declared first, so it goes after the Fds it checks.
  auto [a, b] = MakeSocketPair();
  leftovers.Add(a.get());
  leftovers.Add(b.get());
  ASSERT_TRUE(a.valid() && b.valid())
      << "MakeSocketPair() is written for you, but it returns its two Fds "
      << "inside a std::pair, which moves them there: an Fd move constructor "
      << "that does not take over the descriptor leaves both ends empty"
      << kReadme;
  EXPECT_TRUE(IsCloexec(a.get()) && IsCloexec(b.get()))
      << "MakeSocketPair()'s ends must be close-on-exec" << kReadme;
  EXPECT_TRUE(Connected(a.get(), b.get()) && Connected(b.get(), a.get()))
      << "bytes must flow both ways through a socket pair. If the ends were "
         "closed, the move constructor did not leave its source empty, and "
         "the moved-from Fd inside MakeSocketPair() closed them"
      << kReadme;
}

TEST(FdTest, SetNonBlockingSetsTheFlag) {
  auto [r, w] = RawPipe();
  Leftovers leftovers({r, w});
  ASSERT_FALSE(IsNonBlocking(r));
  SetNonBlocking(r);
  // ASSERT: a read() on a blocking empty pipe would wait forever.
  ASSERT_TRUE(IsNonBlocking(r))
      << "SetNonBlocking must add O_NONBLOCK with fcntl(F_SETFL)" << kReadme;
  char byte;
  EXPECT_EQ(read(r, &byte, 1), -1);
  EXPECT_EQ(errno, EAGAIN) << "a non-blocking read of an empty pipe fails "
                           << "with EAGAIN instead of waiting";
}

TEST(FdTest, SetNonBlockingOnAClosedFdThrowsSysErrorNamingTheFd) {
  // Not a structured binding: the lambda below could not capture it.
  const std::pair<int, int> fds = RawPipe();
  const int closed = fds.first;
  ASSERT_EQ(CloseRaw(fds.first), "");
  ASSERT_EQ(CloseRaw(fds.second), "");
  if (auto error =
          SysErrorFrom([&] { SetNonBlocking(closed); },
                       "SetNonBlocking on closed fd " + std::to_string(closed) +
                           " did not throw")) {
    EXPECT_EQ(error->err, EBADF);
    EXPECT_THAT(error->what, HasSubstr("fd " + std::to_string(closed)));
    EXPECT_THAT(error->what, HasSubstr("EBADF"));
  }
}

TEST(FdTest, TenThousandCyclesLeakNoFd) {
  // Close failures are reported on stderr; collect them instead of printing
  // thousands of lines. Capturing opens descriptors, so it comes first.
  StderrCapture capture;
  const int before = CountOpenFds();
  std::string failure;
  for (int i = 0; i < 10000 && failure.empty(); ++i) {
    std::vector<int> numbers;
    {
      Pipe pipe = MakePipe();
      numbers = {pipe.read.get(), pipe.write.get()};
      Fd moved(std::move(pipe.read));
      Fd assigned;
      assigned = std::move(moved);
      Fd copy = assigned.Duplicate();
      numbers.push_back(copy.get());
      copy.reset();
      int raw = pipe.write.release();
      if (!CloseRaw(raw).empty()) {
        failure = "cycle " + std::to_string(i) + ": close(" +
                  std::to_string(raw) +
                  ") after release() failed; release() must return the owned "
                  "fd";
      }
    }
    for (int fd : numbers) {
      if (failure.empty() && IsOpen(fd)) {
        Leftovers cleanup(numbers);
        failure = "cycle " + std::to_string(i) + ": fd " + std::to_string(fd) +
                  " is still open after every Fd that owned it was destroyed "
                  "or reset";
      }
    }
  }
  const int after = CountOpenFds();
  std::string err = capture.Take();
  ASSERT_EQ(failure, "") << kReadme;
  EXPECT_EQ(after, before)
      << "open descriptors before and after 10000 create/move/duplicate/"
      << "destroy cycles differ" << kReadme;
  EXPECT_EQ(err.substr(0, 500), "")
      << "no close() may fail in ordinary use; a failure here (EBADF) means "
      << "some Fd closed a number twice, e.g. a moved-from or released Fd "
      << "that still held its number. \"close(fd -1)\" means an empty Fd "
      << "called close(): skip the close when it holds no descriptor"
      << kReadme;
}

}  // namespace
}  // namespace loop
