// What one wake costs the finished library in system calls, counted by the
// kernel (/proc/thread-self/io), never timed: the producer's Wake() makes one
// write (for kqueue_user, the kqueue emulation's NOTE_TRIGGER writes its own
// eventfd; on a real kqueue it is one kevent call and no write), and the
// loop's Poll::Wait reads the eventfd never (every write to an eventfd is a new
// edge for the edge-triggered Poll) and the pipe once per reported wake (a pipe
// must be emptied: it fills, and some kernels report no new edge on a pipe that
// is not empty). So an eventfd wake is a write and a wait, as in mio: the
// floor.
//
// Each round wakes and waits on one thread, so the counts are exact.
#include <chrono>
#include <cstdint>

#include "gtest/gtest.h"
#include "loop/loop.h"
#include "tests/support/io_count.h"
#include "tests/support/waker_cases.h"
#include "tests/support/wakes.h"

namespace loop {
namespace {

using testing::kWakeToken;
using testing::SeesToken;
using testing::WakerCase;

constexpr std::chrono::milliseconds kWakeDeadline{2000};
constexpr int kRounds = 100;

class CallsPerWake : public ::testing::TestWithParam<WakerCase> {};

INSTANTIATE_TEST_SUITE_P(Kinds, CallsPerWake,
                         ::testing::ValuesIn(testing::AllWakerCases()),
                         testing::WakerCaseTestName);

// The reads that taking one ThreadIo() reading costs (it reads a file).
std::uint64_t ReadsPerReading() {
  const IoCount a = ThreadIo();
  const IoCount b = ThreadIo();
  return b.reads - a.reads;
}

TEST_P(CallsPerWake, EachWakeIsOneSignalAndAtMostOneRead) {
  if (!HasThreadIo()) GTEST_SKIP() << "needs /proc/thread-self/io (Linux)";
  const WakerCase c = GetParam();
  Poll poll(c.backend);
  Waker waker(poll.registry(), kWakeToken, c.kind);
  // One round first, uncounted: the first wake may make one-time calls (under
  // AddressSanitizer, its runtime writes once on the first).
  waker.Wake();
  ASSERT_TRUE(SeesToken(poll, kWakeToken, kWakeDeadline)) << "the first wake";
  const std::uint64_t overhead = ReadsPerReading();
  std::uint64_t writes = 0, reads = 0;
  for (int round = 0; round < kRounds; ++round) {
    const IoCount before = ThreadIo();
    waker.Wake();
    const IoCount woken = ThreadIo();
    ASSERT_TRUE(SeesToken(poll, kWakeToken, kWakeDeadline))
        << "round " << round << ": the wake was never reported";
    const IoCount after = ThreadIo();
    writes += woken.writes - before.writes;
    reads += (after.reads - woken.reads) - overhead;
  }
  EXPECT_EQ(writes, static_cast<std::uint64_t>(kRounds))
      << kRounds << " wakes, each reported before the next, should make "
      << kRounds << " write system calls: one per wake.";
  if (c.kind == WakerKind::kEventfd) {
    EXPECT_EQ(reads, 0u)
        << "the loop read the eventfd " << reads << " times in " << kRounds
        << " reported wakes. It needs no read: the Poll is edge-triggered and "
           "every write to an eventfd is a new edge, so a wake is one write "
           "and one wait (loop/wake_eventfd.cc).";
  } else if (c.kind == WakerKind::kPipe) {
    EXPECT_EQ(reads, static_cast<std::uint64_t>(kRounds))
        << "the pipe must be read on every reported wake, once: a read that "
           "returns less than it asked for has emptied it (loop/wake_pipe.cc)";
  }
}

}  // namespace
}  // namespace loop
