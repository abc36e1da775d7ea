// The waker suite: what every waker in this workshop must do, as typed gtest
// tests.
//
// Lesson 06 (EventfdWaker), lesson 07 (KqueueWaker, PipeWaker) and
// tests/contract (the finished Waker, //:loop) instantiate the same cases for
// their wakers, so each one is held to one contract:
//
//   - a Wake() that returned is seen by the next poll (same thread or another
//     thread, also while the loop is already blocked in Wait, no timeout);
//   - wakes before a poll coalesce: at least one event, and once the loop has
//     consumed it (see AfterWakeEvent below) the waker is quiet until the
//     next Wake();
//   - many threads waking at once never lose the last wake;
//   - every descriptor the waker opens is close-on-exec, and none is leaked.
//
// The Poll contract allows spurious events in general. These wakers produce
// none, and a waker that stays ready after its event was consumed makes a loop
// spin, so the suite checks for that too.
//
// How to instantiate it, in a test file: the case type in the global namespace
// (gtest prints "where TypeParam = EventfdOnEpoll" on every result line; in an
// anonymous namespace that would be "loop::testing::(anonymous namespace)::
// EventfdOnEpoll"), the instantiation inside namespace loop::testing:
//
//   struct EventfdOnEpoll {
//     // Needs Waker(Registry&, Token) and void Wake().
//     using Waker = loop::EventfdWaker;
//     // The Poll backend to run on.
//     static constexpr loop::Backend kBackend = loop::Backend::kEpoll;
//     // Part of the test names.
//     static constexpr const char* kName = "OnEpoll";
//     // Where failure messages send the reader: the sentence they end with.
//     static constexpr const char* kReadme =
//         " See lessons/06_eventfd_waker/README.md.";
//     // What the loop does after it sees the waker's event: nothing for an
//     // edge-triggered eventfd or EVFILT_USER, waker.Drain() for a pipe.
//     static void AfterWakeEvent(Waker&) {}
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(EventfdWaker, WakerSuite,
//                                  ::testing::Types<EventfdOnEpoll>,
//                                  WakerCaseName);
//
// which names the cases "EventfdWaker/WakerSuite/OnEpoll.WakeThenPollSeesIt"
// and so on.
//
// Every wait has a deadline (kWakeDeadline). A Wait that may block forever is
// unblocked, when its wake is lost, through a second pipe registered with the
// same Poll (the rescue pipe), so a lost wake fails with a message instead of
// hanging.
#ifndef TESTS_SUPPORT_WAKER_SUITE_H_
#define TESTS_SUPPORT_WAKER_SUITE_H_

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "loop/poll.h"
#include "loop/registry.h"
#include "tests/support/deadline.h"
#include "tests/support/events.h"
#include "tests/support/fds.h"
#include "tests/support/threads.h"
#include "tests/support/wakes.h"

namespace loop {
namespace testing {

// Names each instantiation after its case's kName.
struct WakerCaseName {
  template <typename Case>
  static std::string GetName(int) {
    return Case::kName;
  }
};

// Every suite waker is registered under kWakeToken (tests/support/wakes.h);
// the rescue pipe under kRescueToken.
inline constexpr Token kRescueToken{1000};

// How long a wake may take to show up in poll(). A working waker shows up at
// once (an event that is already pending makes Wait return immediately), and
// 2 s leaves room for a loaded 2-core VM under TSan. It also bounds what a lost
// wake costs: a test binary in which every wake is lost still ends well inside
// Bazel's 60 s for a small test, with a message per case.
inline constexpr std::chrono::milliseconds kWakeDeadline{2000};

// How long a poll that should report nothing waits. A waker that wrongly stays
// ready is reported at once, so a short wait is enough to catch it.
inline constexpr std::chrono::milliseconds kQuietPeriod{50};

template <typename Case>
class WakerSuite : public ::testing::Test {
 protected:
  using Waker = typename Case::Waker;

  WakerSuite() : poll_(Case::kBackend), events_(16) {
    const auto rescue = RawPipe();
    rescue_read_ = rescue.first;
    rescue_write_ = rescue.second;
    poll_.registry().Register(rescue_read_, kRescueToken, Interest::kReadable);
  }

  ~WakerSuite() override {
    const std::string errors = CloseRaw(rescue_read_) + CloseRaw(rescue_write_);
    EXPECT_EQ(errors, "") << "closing the rescue pipe";
  }

  Registry& registry() { return poll_.registry(); }
  Poll& poll() { return poll_; }
  Events& events() { return events_; }

  // Unblocks a Wait that a lost wake left blocked: the rescue pipe becomes
  // readable.
  void Rescue() {
    const char byte = 'r';
    if (write(rescue_write_, &byte, 1) != 1) {
      ADD_FAILURE() << "could not write to the rescue pipe; the test may hang";
    }
  }

  // Whether the last Wait reported the waker's token (or the rescue pipe's).
  bool SawWake() const { return Saw(kWakeToken); }
  bool SawRescue() const { return Saw(kRescueToken); }

  // Waits once, at most `timeout`; true if the waker's token was reported.
  bool WaitReportsWake(std::chrono::milliseconds timeout) {
    poll_.Wait(events_, timeout);
    return SawWake();
  }

  // Waits (again if other events arrive) until the waker's token is reported or
  // kWakeDeadline passes.
  bool WaitForWake() {
    const auto end = Clock::now() + kWakeDeadline;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - Clock::now());
      if (WaitReportsWake(std::max(left, std::chrono::milliseconds(0)))) {
        return true;
      }
      if (Clock::now() >= end) return false;
    }
  }

  // "poll() reported nothing" or "poll() reported Event{...}, Event{...}".
  std::string Reported() const {
    return events_.empty() ? "poll() reported nothing"
                           : "poll() reported " + DescribeEvents(events_);
  }

  // The end of most failure messages: what makes a waker work, where to read.
  static std::string Why() {
    return std::string(
               " A wake is a source the Poll watches becoming ready: Wake() "
               "must make it ready (eventfd: write 1; EVFILT_USER: "
               "NOTE_TRIGGER with flags 0, since EV_CLEAR in a trigger cancels "
               "it on FreeBSD and in the emulation; pipe: write a byte), and "
               "the constructor must register it for reading under the token "
               "it was given.") +
           Case::kReadme;
  }

 private:
  // Wake sources (and the rescue pipe) show up readable.
  bool Saw(Token token) const {
    return HasToken(events_, token, Event::kReadable);
  }

  Poll poll_;
  Events events_;
  int rescue_read_ = -1;
  int rescue_write_ = -1;
};

TYPED_TEST_SUITE_P(WakerSuite);

TYPED_TEST_P(WakerSuite, NewWakerIsQuiet) {
  typename TestFixture::Waker waker(this->registry(), kWakeToken);
  EXPECT_FALSE(this->WaitReportsWake(kQuietPeriod))
      << "nobody called Wake(), yet " << this->Reported()
      << ". A new waker must start un-woken (an eventfd at 0, a pipe empty), "
         "or the loop wakes up for nothing."
      << TypeParam::kReadme;
}

TYPED_TEST_P(WakerSuite, WakeThenPollSeesIt) {
  typename TestFixture::Waker waker(this->registry(), kWakeToken);
  waker.Wake();
  EXPECT_TRUE(this->WaitForWake())
      << "wake lost: Wake() returned on this thread, then poll() waited "
      << kWakeDeadline.count() << " ms and " << this->Reported()
      << ", no event with the waker's token " << kWakeToken << "."
      << this->Why();
}

TYPED_TEST_P(WakerSuite, WakeFromAnotherThreadUnblocksPoll) {
  typename TestFixture::Waker waker(this->registry(), kWakeToken);
  Latch about_to_wait(1);
  std::atomic<long> loop_tid{0};
  std::atomic<bool> waker_started{false};
  std::exception_ptr wake_error;
  std::thread waker_thread([&] {
    if (!about_to_wait.Wait()) return;  // Reported below.
    waker_started = true;
    // Best effort, not needed for correctness: let the loop block first, so
    // that what is tested is "wake a thread asleep in the kernel".
    WaitUntilBlockedInKernel(loop_tid, std::chrono::milliseconds(500));
    try {
      waker.Wake();
    } catch (...) {
      wake_error = std::current_exception();
      this->Rescue();
    }
  });
  bool returned = false;
  std::exception_ptr wait_error;
  try {
    returned = FinishesWithin(
        kWakeDeadline,
        [&] {
          loop_tid = CurrentThreadId();
          about_to_wait.CountDown();
          this->poll().Wait(this->events(), std::nullopt);
        },
        [&] { this->Rescue(); });
  } catch (...) {
    wait_error = std::current_exception();
  }
  waker_thread.join();
  if (wait_error) std::rethrow_exception(wait_error);
  if (wake_error) std::rethrow_exception(wake_error);
  ASSERT_TRUE(waker_started) << "the waking thread never saw the loop start";
  EXPECT_TRUE(returned && this->SawWake())
      << "wake lost: another thread called Wake() while this thread was "
         "blocked in poll() with no timeout, and "
      << (returned
              ? "poll() returned without the waker's token: " + this->Reported()
              : "poll() was still blocked " +
                    std::to_string(kWakeDeadline.count()) +
                    " ms later (the test then unblocked it through a second "
                    "pipe)")
      << ". Wake() has to reach the kernel object the blocked poll() sleeps on."
      << this->Why();
}

TYPED_TEST_P(WakerSuite, WakesBeforePollCoalesce) {
  typename TestFixture::Waker waker(this->registry(), kWakeToken);
  constexpr int kWakes = 10;
  for (int i = 0; i < kWakes; ++i) waker.Wake();
  ASSERT_TRUE(this->WaitForWake())
      << "wake lost: " << kWakes << " wakes before a poll produced no event ("
      << this->Reported() << ")." << this->Why();
  TypeParam::AfterWakeEvent(waker);
  EXPECT_FALSE(this->WaitReportsWake(kQuietPeriod))
      << kWakes << " wakes before one poll should coalesce into one event. The "
      << "loop consumed it, nobody woke again, yet the next poll reported the "
      << "waker again (" << this->Reported() << "). A waker that stays ready "
      << "after its event was reported (an EVFILT_USER event without "
      << "EV_CLEAR, a source watched level-triggered) makes the loop spin."
      << TypeParam::kReadme;
}

TYPED_TEST_P(WakerSuite, NextWakeAfterConsumedEventIsSeen) {
  typename TestFixture::Waker waker(this->registry(), kWakeToken);
  for (int round = 1; round <= 3; ++round) {
    waker.Wake();
    ASSERT_TRUE(this->WaitForWake())
        << "wake lost in round " << round << " of 3: Wake() returned, then "
        << this->Reported() << " within " << kWakeDeadline.count() << " ms. "
        << (round == 1
                ? "Even the first wake was not seen."
                : "The wake before was seen and consumed; the next Wake() must "
                  "produce a new event (eventfd: every write re-queues an "
                  "edge-triggered waiter; pipe: the loop drained it, so the "
                  "next byte makes it readable again; EVFILT_USER with "
                  "EV_CLEAR re-arms after each report).")
        << this->Why();
    TypeParam::AfterWakeEvent(waker);
  }
}

TYPED_TEST_P(WakerSuite, PollAfterConsumedWakeReportsNothing) {
  typename TestFixture::Waker waker(this->registry(), kWakeToken);
  waker.Wake();
  ASSERT_TRUE(this->WaitForWake()) << "wake lost: Wake() returned, then "
                                   << this->Reported() << "." << this->Why();
  TypeParam::AfterWakeEvent(waker);
  EXPECT_FALSE(this->WaitReportsWake(kQuietPeriod))
      << "the wake was seen and consumed, nobody woke again, yet the next "
      << "poll reported the waker again (" << this->Reported() << "). "
      << "A consumed wake must not come back, or the loop spins: the Poll "
      << "is edge-triggered (EPOLLET, EV_CLEAR), so a waker's source must be "
      << "too (an EVFILT_USER event needs EV_CLEAR)." << TypeParam::kReadme;
}

TYPED_TEST_P(WakerSuite, TwoWakersOnOnePollAreIndependent) {
  constexpr Token kOtherToken{8};
  typename TestFixture::Waker first(this->registry(), kWakeToken);
  auto second = std::make_unique<typename TestFixture::Waker>(this->registry(),
                                                              kOtherToken);
  first.Wake();
  ASSERT_TRUE(this->WaitForWake())
      << "with two wakers on one Poll, the first one's wake was lost ("
      << this->Reported() << "). Each waker needs its own wake source: two "
      << "wakers must not share an fd or, on kqueue, an EVFILT_USER ident."
      << this->Why();
  TypeParam::AfterWakeEvent(first);
  // Destroying the second waker must remove only its own wake source.
  second.reset();
  try {
    first.Wake();
  } catch (const std::exception& e) {
    FAIL() << "the first waker's Wake() threw \"" << e.what() << "\" after a "
           << "second waker on the same Poll was destroyed: the second one's "
           << "destructor removed the first one's wake source. Each waker "
           << "needs its own (on kqueue: a unique EVFILT_USER ident)."
           << TypeParam::kReadme;
  }
  EXPECT_TRUE(this->WaitForWake())
      << "the first waker stopped working when a second waker on the same "
      << "Poll was destroyed (" << this->Reported() << "): the second one's "
      << "destructor removed the first one's wake source. Each waker needs "
      << "its own (on kqueue: a unique EVFILT_USER ident)."
      << TypeParam::kReadme;
}

TYPED_TEST_P(WakerSuite, ConcurrentWakesNeverLoseTheLastOne) {
  typename TestFixture::Waker waker(this->registry(), kWakeToken);
  constexpr int kThreads = 4;
  constexpr int kWakesPerThread = 1000;
  constexpr int kTotal = kThreads * kWakesPerThread;
  // Each waking thread publishes "one more item", then wakes. The loop reads
  // `published` after it consumed each wake event, so it must end up reading
  // kTotal: the last Wake() comes after the last publication, and a Wake()
  // after the loop consumed an event must produce a new one.
  std::atomic<int> published{0};
  Latch start(kThreads + 1);
  std::vector<std::exception_ptr> wake_errors(kThreads);
  std::vector<std::thread> wakers;
  for (int t = 0; t < kThreads; ++t) {
    wakers.emplace_back([&, t] {
      start.ArriveAndWait();
      try {
        for (int i = 0; i < kWakesPerThread; ++i) {
          published.fetch_add(1);
          waker.Wake();
        }
      } catch (...) {
        wake_errors[t] = std::current_exception();
        this->Rescue();
      }
    });
  }
  int seen = 0;
  Latch loop_done(1);
  std::exception_ptr loop_error;
  std::thread loop([&] {
    try {
      start.ArriveAndWait();
      while (seen < kTotal) {
        this->poll().Wait(this->events(), std::nullopt);
        if (this->SawWake()) {
          TypeParam::AfterWakeEvent(waker);
          seen = published.load();
        }
        if (this->SawRescue()) break;
      }
    } catch (...) {
      loop_error = std::current_exception();
    }
    loop_done.CountDown();
  });
  // Wake() never blocks, so the waking threads end on their own. From then on
  // the loop has kWakeDeadline to see the last wake.
  for (std::thread& t : wakers) t.join();
  const bool in_time = loop_done.Wait(kWakeDeadline);
  if (!in_time) this->Rescue();
  loop.join();
  if (loop_error) std::rethrow_exception(loop_error);
  for (const std::exception_ptr& e : wake_errors) {
    if (e) std::rethrow_exception(e);
  }
  EXPECT_TRUE(in_time && seen == kTotal)
      << "wake lost under contention: " << kThreads << " threads each "
      << "published an item and woke, " << kWakesPerThread << " times. After "
      << "its last wake event the loop had seen " << seen << " of " << kTotal
      << " items, and then poll() stayed blocked for " << kWakeDeadline.count()
      << " ms after the last Wake() returned. A Wake() that comes after the "
      << "loop consumed the previous event must always produce a new one, "
      << "however many threads wake at once." << this->Why();
}

TYPED_TEST_P(WakerSuite, DescriptorsAreCloseOnExec) {
  const std::set<int> before = OpenFdNumbers();
  typename TestFixture::Waker waker(this->registry(), kWakeToken);
  const std::set<int> after = OpenFdNumbers();
  std::vector<int> opened;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(opened));
  if (opened.empty()) {
    GTEST_SKIP()
        << "this waker opens no descriptor of its own (an EVFILT_USER event "
           "lives inside the kqueue), so there is nothing to check";
  }
  for (int fd : opened) {
    EXPECT_TRUE(IsCloexec(fd))
        << "fd " << fd << ", opened by the waker, is not close-on-exec: every "
        << "program this process starts (fork + exec) would inherit it, and a "
        << "child holding a pipe's write end keeps the pipe alive. Create it "
        << "with the flag (EFD_CLOEXEC, pipe2(O_CLOEXEC))."
        << TypeParam::kReadme;
  }
}

TYPED_TEST_P(WakerSuite, ThousandWakersLeakNoDescriptor) {
  constexpr int kWakers = 1000;
  const int before = CountOpenFds();
  for (int i = 0; i < kWakers; ++i) {
    typename TestFixture::Waker waker(this->registry(), kWakeToken);
    if (i % 100 == 0) waker.Wake();  // Destroyed with a wake pending, too.
  }
  const int after = CountOpenFds();
  EXPECT_EQ(after, before)
      << "creating and destroying " << kWakers << " wakers changed the number "
      << "of open descriptors from " << before << " to " << after << ": the "
      << "destructor must close everything the waker opened (keep each "
      << "descriptor in an Fd member and it closes itself)."
      << TypeParam::kReadme;
}

REGISTER_TYPED_TEST_SUITE_P(
    WakerSuite, NewWakerIsQuiet, WakeThenPollSeesIt,
    WakeFromAnotherThreadUnblocksPoll, WakesBeforePollCoalesce,
    NextWakeAfterConsumedEventIsSeen, PollAfterConsumedWakeReportsNothing,
    TwoWakersOnOnePollAreIndependent, ConcurrentWakesNeverLoseTheLastOne,
    DescriptorsAreCloseOnExec, ThousandWakersLeakNoDescriptor);

}  // namespace testing
}  // namespace loop

#endif  // TESTS_SUPPORT_WAKER_SUITE_H_
