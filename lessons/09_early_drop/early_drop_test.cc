// Lesson 09: the early drop. See lessons/09_early_drop/README.md.
//
// Every test runs once per wake source and backend, e.g.
//   Kinds/EarlyDrop.WakeThenDropBeforePoll/eventfd_on_epoll
// The Basics suite is what lessons 06-07 already promised; the naive starter
// passes it. The EarlyDrop suite is what real programs do with wakers, and
// what the starter gets wrong:
//   (a) WakeThenDropBeforePoll: a thread wakes, then destroys its Waker.
//   (b) WakerMovedIntoThreadThatExits: the Waker lives in a thread that wakes
//       and ends; then the loop polls with no timeout.
//   (c) HandleOutlivesItsPoll: a handle wakes after its Poll is gone and the
//       fd numbers have been reused by other files.
//   (d) ManyHandlesDroppedInRandomOrder: threads wake and drop their handles.
// No test can hang: a lost wake fails within kWakeDeadline, and a poll with no
// timeout runs under FinishesWithin with a rescue pipe.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "lessons/09_early_drop/waker.h"
#include "loop/fd.h"
#include "loop/poll.h"
#include "loop/registry.h"
#include "loop/sys_error.h"
#include "tests/support/deadline.h"
#include "tests/support/fds.h"
#include "tests/support/wakes.h"

namespace loop {
namespace {

using std::chrono::milliseconds;
using testing::Clock;
using testing::kWakeToken;
using testing::SeesToken;

constexpr Token kRescueToken{7};

// How long a test waits for a wake that should be pending already. A pending
// wake is reported at once even under TSan on a busy machine; a lost one fails
// after this long.
constexpr milliseconds kWakeDeadline{1500};

constexpr char kReadme[] = " See lessons/09_early_drop/README.md.";

// A copy that writes into a pipe whose read end the creating Waker has just
// closed gets SIGPIPE, which would end the whole test binary and hide every
// other result. Ignored, the write fails with EPIPE instead, and the test
// reports that.
struct IgnoreSigpipe {
  IgnoreSigpipe() {
    struct sigaction action = {};
    action.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &action, nullptr) == -1) {
      std::fprintf(
          stderr, "%s\n",
          DescribeSysError("sigaction(SIGPIPE, SIG_IGN)", errno).c_str());
      std::abort();
    }
  }
} ignore_sigpipe;

struct Case {
  Backend backend;
  WakerKind kind;
};

std::string CaseName(const Case& c) {
  return std::string(WakerKindName(c.kind)) + "_on_" + BackendName(c.backend);
}

std::ostream& operator<<(std::ostream& os, const Case& c) {
  return os << CaseName(c);
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (Backend backend : AvailableBackends()) {
    for (WakerKind kind : AvailableWakerKinds(backend)) {
      cases.push_back({backend, kind});
    }
  }
  return cases;
}

std::string NameOf(const ::testing::TestParamInfo<Case>& info) {
  return CaseName(info.param);
}

// Why a wake disappears when its source goes before the loop looks.
std::string WhyLost(WakerKind kind) {
  const std::string by =
      " (in the starter, by the Waker's destructor; once the handles share "
      "the source, by the last handle to go)";
  switch (kind) {
    case WakerKind::kEventfd:
      return "The eventfd was deregistered or closed before the loop polled" +
             by +
             ". Either step removes it from the Poll's interest list, and the "
             "readiness that was already pending goes with it.";
    case WakerKind::kPipe:
      return "The pipe was deregistered or closed before the loop polled" + by +
             ". Its read end left the Poll's interest list, and the byte "
             "already written died with the pipe.";
    case WakerKind::kKqueueUser:
      return "The EVFILT_USER event was deleted (EV_DELETE) before the loop "
             "polled" +
             by + ", and the trigger that was pending went with it.";
  }
  return "";
}

constexpr char kFix[] =
    " The wake source must live as long as anyone needs it: share it between "
    "the Poll and every handle (Arc). If the handles share it already, the "
    "Poll needs a share of its own (Registry::Retain); otherwise the last "
    "handle still closes it before the loop looks.";

// What Wake() did, as text: "kWoken", "kPollGone" or "threw: <what>".
std::string WakeOutcome(const Waker& waker) {
  try {
    return WakeResultName(waker.Wake());
  } catch (const std::exception& e) {
    return std::string("threw: ") + e.what();
  }
}

class Basics : public ::testing::TestWithParam<Case> {};
class EarlyDrop : public ::testing::TestWithParam<Case> {};

INSTANTIATE_TEST_SUITE_P(Kinds, Basics, ::testing::ValuesIn(AllCases()),
                         NameOf);
INSTANTIATE_TEST_SUITE_P(Kinds, EarlyDrop, ::testing::ValuesIn(AllCases()),
                         NameOf);

// ---------------------------------------------------------------------------------
// Basics: what lessons 06 and 07 promised. These pass with the naive Waker too.

TEST_P(Basics, WakeFromAnotherThreadIsSeen) {
  Poll poll(GetParam().backend);
  Waker waker(poll.registry(), kWakeToken, GetParam().kind);
  std::string outcome;
  std::thread worker(
      [handle = waker, &outcome] { outcome = WakeOutcome(handle); });
  const bool seen = SeesToken(poll, kWakeToken, kWakeDeadline);
  worker.join();
  EXPECT_EQ(outcome, "kWoken");
  EXPECT_TRUE(seen)
      << "a copy of the Waker woke the Poll from another thread while "
         "everything was alive, and Wait() never reported the token.";
}

TEST_P(Basics, DrainThenWakeAgain) {
  Poll poll(GetParam().backend);
  Waker waker(poll.registry(), kWakeToken, GetParam().kind);
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(WakeOutcome(waker), "kWoken");
    ASSERT_EQ(WakeOutcome(waker), "kWoken");  // Coalesced with the first.
    ASSERT_TRUE(SeesToken(poll, kWakeToken, kWakeDeadline))
        << "round " << round << ": the wake was not reported.";
    waker.Drain();
    waker.Drain();  // Nothing left: must return at once, not block.
  }
}

TEST_P(Basics, MovedFromWakerIsEmpty) {
  Poll poll(GetParam().backend);
  Waker first(poll.registry(), kWakeToken, GetParam().kind);
  Waker second = std::move(first);
  EXPECT_THROW(first.Wake(),
               std::logic_error);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(WakeOutcome(second), "kWoken");
  EXPECT_TRUE(SeesToken(poll, kWakeToken, kWakeDeadline));
}

TEST_P(Basics, NoDescriptorLeaks) {
  auto cycle = [&] {
    Poll poll(GetParam().backend);
    Waker waker(poll.registry(), kWakeToken, GetParam().kind);
    Waker copy = waker;
    ASSERT_EQ(WakeOutcome(copy), "kWoken");
  };
  // The kqueue emulation frees a dead kqueue's state when the next kqueue is
  // created, so one kqueue's worth may linger at any time: count with one cycle
  // already done.
  cycle();
  const int before = testing::CountOpenFds();
  for (int i = 0; i < 50; ++i) cycle();
  EXPECT_EQ(testing::CountOpenFds(), before)
      << "creating and destroying Polls with Wakers (and copies) must close "
         "every descriptor they opened.";
}

TEST(WakerKinds, KqueueUserNeedsTheKqueueBackend) {
  for (Backend backend : AvailableBackends()) {
    if (backend == Backend::kKqueue) continue;
    Poll poll(backend);
    EXPECT_THROW(Waker(poll.registry(), kWakeToken, WakerKind::kKqueueUser),
                 std::invalid_argument)
        << "an EVFILT_USER event needs a kqueue; the " << BackendName(backend)
        << " backend has none.";
  }
}

// ---------------------------------------------------------------------------------
// (a) A thread wakes the loop, then destroys its Waker, all before the loop
// polls.

TEST_P(EarlyDrop, WakeThenDropBeforePoll) {
  const Case c = GetParam();
  Poll poll(c.backend);
  std::optional<Waker> waker;
  waker.emplace(poll.registry(), kWakeToken, c.kind);

  std::string outcome;
  std::thread worker([&] {
    outcome = WakeOutcome(*waker);
    waker.reset();  // The worker is done with its Waker.
  });
  worker.join();  // Wake, then drop, have both happened: no luck involved.
  ASSERT_EQ(outcome, "kWoken")
      << "the wake itself must work: the Poll is alive.";

  EXPECT_TRUE(SeesToken(poll, kWakeToken, kWakeDeadline))
      << "wake lost: a thread called Wake() and then destroyed its Waker, and "
         "the next Poll::Wait saw nothing for "
      << kWakeDeadline.count() << " ms. " << WhyLost(c.kind) << kFix << kReadme;
}

// ---------------------------------------------------------------------------------
// (b) The exact shape users hit: the Waker is moved into a worker thread, which
// wakes the loop and ends. Then the loop polls with no timeout, as event loops
// do.

TEST_P(EarlyDrop, WakerMovedIntoThreadThatExits) {
  const Case c = GetParam();
  Poll poll(c.backend);
  // Only the test writes here, and only to unblock a Wait() that would sleep
  // forever.
  Pipe rescue = MakePipe(O_NONBLOCK);
  poll.registry().Register(rescue.read.get(), kRescueToken,
                           Interest::kReadable);

  Waker waker(poll.registry(), kWakeToken, c.kind);
  std::string outcome;
  std::thread worker(
      [handle = std::move(waker), &outcome] { outcome = WakeOutcome(handle); });
  worker.join();  // The thread has woken the loop and ended, and its Waker with
                  // it.
  ASSERT_EQ(outcome, "kWoken")
      << "the wake itself must work: the Poll is alive.";

  bool woken = false;
  bool rescued = false;
  const bool returned = testing::FinishesWithin(
      kWakeDeadline,
      [&] {
        Events events(8);
        while (!woken && !rescued) {
          poll.Wait(events, std::nullopt);
          for (const Event& event : events) {
            woken |= event.token() == kWakeToken;
            rescued |= event.token() == kRescueToken;
          }
        }
      },
      [&] {
        const char byte = 1;
        if (write(rescue.write.get(), &byte, 1) != 1) {
          ADD_FAILURE() << DescribeSysError("write(rescue pipe)", errno);
        }
      });
  EXPECT_TRUE(returned && woken)
      << "wake lost: Poll::Wait with no timeout was still asleep "
      << kWakeDeadline.count()
      << " ms after the worker thread had woken it and exited (the test then "
         "unblocked it through a second pipe; a real loop would sleep "
         "forever). The Waker was moved into the thread, so it was destroyed "
         "when the thread ended. "
      << WhyLost(c.kind) << kFix << kReadme;
  poll.registry().Deregister(rescue.read.get());
}

// ---------------------------------------------------------------------------------
// (c) A handle outlives its Poll (a worker still running while the loop shuts
// down). Meanwhile the program opens other files, which get the freed
// descriptor numbers.

// An unrelated file at a chosen descriptor number, like the files a program
// opens after the number was freed. Nobody in these tests has any business
// writing to it.
class Decoy {
 public:
  // `number` must be free (and is normally the lowest free number).
  explicit Decoy(int number) : number_(number) {
    const char* dir = std::getenv("TEST_TMPDIR");
    std::string path =
        std::string(dir != nullptr ? dir : "/tmp") + "/decoy-XXXXXX";
    int fd = mkostemp(path.data(), O_CLOEXEC);
    if (fd == -1) throw SysError("mkostemp(" + path + ")", errno);
    if (unlink(path.c_str()) == -1) {
      throw SysError("unlink(" + path + ")", errno);
    }
    if (fd != number) {
      // F_DUPFD_CLOEXEC picks the lowest free number >= `number`, which is
      // `number`.
      const int moved = fcntl(fd, F_DUPFD_CLOEXEC, number);
      const int err = errno;
      const std::string close_error = testing::CloseRaw(fd);
      if (moved == -1) throw SysError("fcntl(F_DUPFD_CLOEXEC)", err);
      if (!close_error.empty()) throw std::runtime_error(close_error);
      fd = moved;
    }
    fd_.reset(fd);
    if (fd != number) {
      throw std::runtime_error("test setup: fd number " +
                               std::to_string(number) + " was not free");
    }
  }

  int number() const { return number_; }

  // Bytes written into the file so far.
  long long size() const {
    struct stat st;
    if (fstat(fd_.get(), &st) == -1) throw SysError("fstat(decoy)", errno);
    return static_cast<long long>(st.st_size);
  }

 private:
  int number_;
  Fd fd_;
};

TEST_P(EarlyDrop, HandleOutlivesItsPoll) {
  const Case c = GetParam();
  std::optional<Waker>
      handle;  // A worker's copy, still around after the loop ends.
  int dead_selector = -1;
  int highest_used =
      -1;  // Every number the Poll and its Waker use is at most this.
  {
    Poll poll(c.backend);
    Waker waker(poll.registry(), kWakeToken, c.kind);
    handle.emplace(waker);
    dead_selector = poll.registry().selector_fd();
    highest_used = *testing::OpenFdNumbers().rbegin();
  }  // The loop shuts down: its Waker, then its Poll.
  ASSERT_FALSE(testing::IsOpen(dead_selector))
      << "test setup: destroying the Poll must close its selector fd "
      << dead_selector;

  // Give every freed number to somebody else, as a busy program would. Files
  // are opened at the lowest free number, so filling the holes in order puts
  // one decoy in each.
  std::vector<std::unique_ptr<Decoy>> decoys;
  auto fill_holes_below = [&](int limit) {
    for (int fd = 0; fd < limit; ++fd) {
      if (!testing::IsOpen(fd)) decoys.push_back(std::make_unique<Decoy>(fd));
    }
  };
  std::optional<Poll> other_poll;
  std::optional<Waker> other_waker;
  if (c.kind == WakerKind::kKqueueUser) {
    // The stale handle would signal the old kqueue's number: put another loop's
    // kqueue there, with a Waker for the same token (the loops of one program
    // tend to use the same one). With the lower holes filled, the new kqueue
    // gets that number.
    fill_holes_below(dead_selector);
    other_poll.emplace(Backend::kKqueue);
    ASSERT_EQ(other_poll->registry().selector_fd(), dead_selector)
        << "test setup: the new Poll's kqueue should have reused fd number "
        << dead_selector;
    other_waker.emplace(other_poll->registry(), kWakeToken,
                        WakerKind::kKqueueUser);
  }
  fill_holes_below(highest_used + 1);

  const std::string outcome = WakeOutcome(*handle);
  // What the last handle owns is closed when it goes: record the open
  // descriptors (and their close-on-exec flags) before, and see which close.
  std::map<int, bool> open_before;
  for (int fd : testing::OpenFdNumbers()) {
    open_before[fd] = testing::IsCloexec(fd);
  }
  handle.reset();  // The worker ends: the last handle goes, after the Poll.
  std::vector<int> closed_by_handle;
  for (const auto& [fd, cloexec] : open_before) {
    if (!testing::IsOpen(fd)) {
      closed_by_handle.push_back(fd);
      EXPECT_TRUE(cloexec) << "the wake source's fd " << fd
                           << " was not close-on-exec: create (or duplicate) "
                              "every descriptor with CLOEXEC."
                           << kReadme;
    }
  }

  EXPECT_EQ(outcome, "kPollGone")
      << "Wake() on a handle whose Poll is gone should say so (kPollGone) and "
         "touch nothing: there is nobody left to wake. A handle learns it from "
         "the Poll's own share: ~PollLink (what the Poll retained) clears a "
         "poll_alive flag in the source, and Wake() checks it first."
      << kReadme;
  for (const auto& decoy : decoys) {
    EXPECT_EQ(decoy->size(), 0)
        << "stale write: a Waker handle that outlived its Poll wrote "
        << decoy->size()
        << " byte(s) into an unrelated file, opened after the Poll was gone, "
           "which got fd number "
        << decoy->number() << ": the number the Waker's "
        << WakerKindName(c.kind)
        << " had before it was closed. The handle only borrowed the number. If "
           "the handles share ownership of the wake source, its descriptor "
           "stays open while any handle lives, so the number cannot be reused."
        << kReadme;
  }
  EXPECT_FALSE(closed_by_handle.empty())
      << "dropping the last handle, after its Poll was gone, closed no "
         "descriptor: the handle owned none, so it was borrowing numbers that "
         "were no longer its own"
      << (c.kind == WakerKind::kKqueueUser
              ? " (for kqueue_user: the Poll's kqueue). Give the wake source "
                "its own duplicate: fcntl(kq, F_DUPFD_CLOEXEC, 0)."
              : ". The wake source must own its descriptors, and every handle "
                "must share the source.")
      << kReadme;
  if (other_poll) {
    EXPECT_FALSE(SeesToken(*other_poll, kWakeToken, milliseconds(50)))
        << "foreign wake: a Waker handle whose Poll was gone triggered "
           "EVFILT_USER ident "
        << kWakeToken.value
        << " on another Poll's kqueue, which had been given the "
        << "dead kqueue's fd number " << dead_selector
        << ". The handle only borrowed the number. Own a duplicate of the "
           "kqueue descriptor in the shared wake source, and check that the "
           "Poll is alive."
        << kReadme;
  }
}

// ---------------------------------------------------------------------------------
// (d) Many threads, each with its own handle, wake the loop and drop their
// handles in a random order; the creating Waker is one of them. After the last
// drop the loop polls.

// Lets threads act one after another in a fixed order, with a deadline.
class Turns {
 public:
  bool IsNow(int turn) {
    std::lock_guard<std::mutex> lock(mu_);
    return next_ == turn;
  }
  bool WaitFor(int turn, milliseconds deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return next_ == turn; });
  }
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    ++next_;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int next_ = 0;
};

// LOOP_SEED=<n> in the environment repeats one drop order (bazel test
// --test_env=LOOP_SEED=<n>); otherwise each run picks a new one.
std::uint32_t DropOrderSeed() {
  if (const char* env = std::getenv("LOOP_SEED")) {
    return static_cast<std::uint32_t>(std::strtoul(env, nullptr, 10));
  }
  return std::random_device()();
}

TEST_P(EarlyDrop, ManyHandlesDroppedInRandomOrder) {
  constexpr int kThreads = 6;
  constexpr int kWakesWhileWaiting = 100;
  const Case c = GetParam();
  const std::uint32_t seed = DropOrderSeed();

  Poll poll(c.backend);
  std::vector<std::optional<Waker>> handles(kThreads);
  handles[0].emplace(poll.registry(), kWakeToken,
                     c.kind);  // The creating Waker.
  for (int i = 1; i < kThreads; ++i) handles[i].emplace(*handles[0]);

  std::vector<int> order(kThreads);  // order[k]: the thread that drops k-th.
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  std::vector<int> turn_of(kThreads);
  for (int k = 0; k < kThreads; ++k) turn_of[order[k]] = k;

  testing::Latch start(kThreads);
  Turns turns;
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> workers;
  for (int i = 0; i < kThreads; ++i) {
    workers.emplace_back([&, i] {
      std::string& error = errors[i];
      auto wake = [&] {
        if (!error.empty()) return;  // Report the first failure, not a flood.
        const std::string outcome = WakeOutcome(*handles[i]);
        if (outcome != "kWoken") error = "Wake() -> " + outcome;
      };
      if (!start.ArriveAndWait()) error = "the threads never all started";
      // Keep waking while the threads before us drop their handles.
      for (int n = 0; n < kWakesWhileWaiting && !turns.IsNow(turn_of[i]); ++n) {
        wake();
        std::this_thread::yield();
      }
      if (!turns.WaitFor(turn_of[i], testing::kDefaultDeadline)) {
        error = "timed out waiting for its turn to drop";
      }
      wake();
      handles[i].reset();
      turns.Done();
    });
  }
  for (std::thread& worker : workers) worker.join();

  std::ostringstream story;
  story << "drop order (thread numbers; thread 0 held the creating Waker):";
  for (int t : order) story << ' ' << t;
  story << "; seed " << seed << " (repeat it with --test_env=LOOP_SEED=" << seed
        << ")";

  EXPECT_TRUE(SeesToken(poll, kWakeToken, kWakeDeadline))
      << "wake lost: " << kThreads
      << " threads each woke the Poll through their own handle and then "
         "dropped it, and after the last drop Poll::Wait saw nothing for "
      << kWakeDeadline.count() << " ms. " << story.str() << ". "
      << WhyLost(c.kind) << kFix << kReadme;
  std::ostringstream failures;
  for (int i = 0; i < kThreads; ++i) {
    if (errors[i].empty()) continue;
    failures << "\n  thread " << i << " (dropped " << turn_of[i] + 1 << " of "
             << kThreads << "): " << errors[i];
  }
  EXPECT_TRUE(failures.str().empty())
      << "some handles failed to wake a live Poll. Each was a copy that used a "
         "descriptor (or user event) after the creating Waker had closed (or "
         "deleted) it:"
      << failures.str() << "\n"
      << story.str() << "." << kReadme;
}

}  // namespace
}  // namespace loop
