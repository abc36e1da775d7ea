// Tests for lesson 08: Arc<T> and Weak<T>.
//
// The single-threaded tests check the counting rules one at a time. The
// ArcThreads tests are why Arc exists: they share one T between threads, and
// they check the memory orders. On x86 a wrong memory order rarely shows up as
// a wrong value, so run them under ThreadSanitizer as well (see the README):
// TSan reports the missing happens-before even when the values look right.
#include "lessons/08_arc/arc.h"

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/deadline.h"

namespace loop {
namespace {

using testing::Clock;
using testing::kDefaultDeadline;
using testing::Latch;
using testing::WaitUntil;

// What each failure means, and where the README explains it.
constexpr char kClone[] =
    "copying an Arc is a clone: the copy must share the control block and "
    "add 1 to the strong count (fetch_add, relaxed). "
    "See Step 1 of lessons/08_arc/README.md";
constexpr char kRelease[] =
    "an Arc that goes away (destructor, reset, assignment) must subtract 1 "
    "from the strong count (fetch_sub, acq_rel) and leave itself empty. "
    "See Step 2 of lessons/08_arc/README.md";
constexpr char kNeverDestroyed[] =
    "the T was never destroyed: the last Arc must delete it (the owner whose "
    "fetch_sub returned 1 calls DestroyValue()). "
    "See Step 2 of lessons/08_arc/README.md";
constexpr char kTooEarly[] =
    "the T was destroyed while an Arc still owns it: only the owner that takes "
    "the strong count from 1 to 0 may destroy it. "
    "See Step 2 of lessons/08_arc/README.md";
constexpr char kTwice[] =
    "the T was destroyed more than once: exactly one owner sees the count go "
    "from 1 to 0, so only that one may destroy it. "
    "See Step 2 of lessons/08_arc/README.md";
constexpr char kMove[] =
    "a move hands ownership over: the new Arc takes the control block, the "
    "old one is left empty, and no count changes. "
    "See Step 3 of lessons/08_arc/README.md";
constexpr char kAssign[] =
    "assignment clones the right side, then drops the left side's old value, "
    "in that order (clone first, so that a = a is harmless). "
    "See Step 3 of lessons/08_arc/README.md";
constexpr char kWeak[] =
    "a Weak shares the control block without owning the T: Downgrade adds to "
    "the weak count only, and the block lives until the last Weak is gone. "
    "See Step 4 of lessons/08_arc/README.md";
constexpr char kUpgrade[] =
    "Upgrade must return a new owner while the T lives (strong count + 1) and "
    "an empty Arc once it is gone, never an Arc to a destroyed T. "
    "See Step 5 of lessons/08_arc/README.md";

// Counts destructions: "never destroyed" and "destroyed twice" both fail.
struct Lifetime {
  std::atomic<int> destroyed{0};
};

class Tracked {
 public:
  Tracked(Lifetime* lifetime, int value) : value(value), lifetime_(lifetime) {}
  ~Tracked() { lifetime_->destroyed.fetch_add(1); }
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;

  int value;

 private:
  Lifetime* lifetime_;
};

// ---------------------------------------------------------------------------
// What the starter already provides.

TEST(ArcBasics, DefaultIsEmpty) {
  Arc<int> empty;
  EXPECT_FALSE(empty);
  EXPECT_EQ(empty.get(), nullptr);
  EXPECT_EQ(empty.use_count(), 0);
  EXPECT_TRUE(empty == Arc<int>()) << "two empty Arcs compare equal";
}

TEST(ArcBasics, MakeBuildsTheValueInPlaceWithOneOwner) {
  Arc<std::string> text = Arc<std::string>::Make(3, 'x');
  ASSERT_TRUE(text) << "Make must return a non-empty Arc";
  EXPECT_EQ(*text, "xxx") << "Make passes its arguments to T's constructor";
  EXPECT_EQ(text->size(), 3u);
  EXPECT_EQ(text.get(), &*text);
  EXPECT_EQ(text.use_count(), 1) << "a fresh Arc is the only owner";
}

TEST(ArcBasics, DifferentValuesAreDifferentArcsEvenWhenEqual) {
  auto a = Arc<int>::Make(5);
  auto b = Arc<int>::Make(5);
  EXPECT_TRUE(a != b)
      << "== compares ownership (the control block), not the values";
  EXPECT_FALSE(a == b);
}

// ---------------------------------------------------------------------------
// Step 1 and 2: clone and drop.

TEST(ArcCounting, CloneAddsAnOwnerOfTheSameValue) {
  auto a = Arc<int>::Make(7);
  Arc<int> b = a;
  ASSERT_TRUE(b) << kClone;
  EXPECT_TRUE(a == b) << kClone;
  EXPECT_EQ(a.get(), b.get()) << kClone;
  EXPECT_EQ(a.use_count(), 2) << kClone;
  EXPECT_EQ(b.use_count(), 2) << kClone;
  Arc<int> c(b);
  EXPECT_EQ(a.use_count(), 3) << kClone;
}

TEST(ArcCounting, DroppingACloneRemovesOneOwner) {
  Lifetime life;
  auto a = Arc<Tracked>::Make(&life, 1);
  {
    Arc<Tracked> b = a;
    ASSERT_EQ(a.use_count(), 2) << kClone;
  }
  EXPECT_EQ(a.use_count(), 1) << kRelease;
  EXPECT_EQ(life.destroyed, 0) << kTooEarly;
  EXPECT_EQ(a->value, 1);
}

TEST(ArcCounting, ResetDropsOneOwnerAndEmptiesTheArc) {
  Lifetime life;
  auto a = Arc<Tracked>::Make(&life, 1);
  Arc<Tracked> b = a;
  ASSERT_EQ(a.use_count(), 2) << kClone;
  b.reset();
  EXPECT_FALSE(b) << kRelease;
  EXPECT_EQ(b.use_count(), 0) << kRelease;
  EXPECT_EQ(a.use_count(), 1) << kRelease;
  EXPECT_EQ(life.destroyed, 0) << kTooEarly;
  a.reset();
  EXPECT_FALSE(a) << kRelease;
  EXPECT_EQ(life.destroyed, 1) << kNeverDestroyed;
  a.reset();  // Resetting an empty Arc does nothing.
  EXPECT_EQ(life.destroyed, 1) << kTwice;
}

TEST(ArcCounting, TheOnlyOwnerDestroysTheValueWhenItGoesAway) {
  Lifetime life;
  { auto a = Arc<Tracked>::Make(&life, 1); }
  EXPECT_EQ(life.destroyed, 1) << kNeverDestroyed;
}

TEST(ArcCounting, TheLastOfManyOwnersDestroysTheValueExactlyOnce) {
  Lifetime life;
  auto first = Arc<Tracked>::Make(&life, 1);
  std::vector<Arc<Tracked>> clones(5, first);
  ASSERT_EQ(first.use_count(), 6) << kClone;
  first.reset();  // The original is not special: any owner can be the last.
  while (clones.size() > 1) {
    clones.pop_back();
    ASSERT_EQ(life.destroyed, 0)
        << kTooEarly << " (" << clones.size() << " owners were left)";
  }
  EXPECT_EQ(clones.back().use_count(), 1) << kRelease;
  clones.clear();
  EXPECT_EQ(life.destroyed, 1) << kNeverDestroyed;
}

// ---------------------------------------------------------------------------
// Step 3: move and assignment.

TEST(ArcMove, MoveConstructionHandsOwnershipOverWithoutCounting) {
  Lifetime life;
  auto a = Arc<Tracked>::Make(&life, 1);
  Tracked* value = a.get();
  Arc<Tracked> b(std::move(a));
  EXPECT_EQ(b.get(), value) << kMove;
  EXPECT_EQ(b.use_count(), 1) << kMove;
  EXPECT_FALSE(a) << kMove;  // Reading a moved-from Arc is the point here.
  EXPECT_EQ(a.use_count(), 0) << kMove;
  EXPECT_EQ(life.destroyed, 0) << kTooEarly;
  b.reset();
  EXPECT_EQ(life.destroyed, 1) << kNeverDestroyed;
}

TEST(ArcMove, MoveAssignmentDropsTheOldValueAndTakesTheNew) {
  Lifetime old_life, new_life;
  auto a = Arc<Tracked>::Make(&old_life, 1);
  auto b = Arc<Tracked>::Make(&new_life, 2);
  Tracked* incoming = b.get();
  a = std::move(b);
  EXPECT_EQ(a.get(), incoming) << kMove;
  EXPECT_FALSE(b) << kMove;
  EXPECT_EQ(a.use_count(), 1) << kMove;
  EXPECT_EQ(old_life.destroyed, 1)
      << "a = std::move(b) drops a's old value; it was its only owner. "
      << kMove;
  EXPECT_EQ(new_life.destroyed, 0) << kTooEarly;
}

TEST(ArcAssign, CopyAssignmentDropsTheOldValueAndClonesTheNew) {
  Lifetime old_life, new_life;
  auto a = Arc<Tracked>::Make(&old_life, 1);
  auto b = Arc<Tracked>::Make(&new_life, 2);
  a = b;
  EXPECT_TRUE(a == b) << kAssign;
  EXPECT_EQ(b.use_count(), 2) << kAssign;
  EXPECT_EQ(old_life.destroyed, 1)
      << "a = b drops a's old value; it was its only owner. " << kAssign;
  EXPECT_EQ(new_life.destroyed, 0) << kTooEarly;
  a = Arc<Tracked>();  // Assigning an empty Arc is a drop too.
  EXPECT_EQ(b.use_count(), 1) << kAssign;
}

TEST(ArcAssign, SelfAssignmentChangesNothing) {
  Lifetime life;
  auto a = Arc<Tracked>::Make(&life, 1);
  Arc<Tracked>& same = a;  // Self-assignment in real code is this indirect.
  a = same;
  ASSERT_TRUE(a) << "a = a emptied the Arc. " << kAssign;
  EXPECT_EQ(life.destroyed, 0) << "a = a destroyed the value. " << kAssign;
  EXPECT_EQ(a.use_count(), 1) << kAssign;
  EXPECT_EQ(a->value, 1);
  Arc<Tracked> b = a;
  b = a;  // Already the same value: still two owners.
  EXPECT_EQ(a.use_count(), 2) << kAssign;
}

// A node that owns its successor.
struct Node {
  Node(Lifetime* lifetime, int value) : tracked(lifetime, value) {}
  Tracked tracked;
  Arc<Node> next;
};

// head = head->next: the right side lives inside the value the left side is
// dropping. Dropping first would destroy the node that holds `next` before
// `next` is cloned.
TEST(ArcAssign, AssigningAValueThatOnlyTheTargetKeepsAliveIsSafe) {
  Lifetime first_life, second_life;
  auto head = Arc<Node>::Make(&first_life, 1);
  head->next = Arc<Node>::Make(&second_life, 2);
  ASSERT_TRUE(head->next) << kMove;
  head = head->next;
  EXPECT_EQ(second_life.destroyed, 0)
      << "the node being assigned was destroyed during the assignment: "
         "clone the right side before dropping the left side's old value. "
      << kAssign;
  ASSERT_TRUE(head) << kAssign;
  EXPECT_EQ(first_life.destroyed, 1) << kNeverDestroyed;
  EXPECT_EQ(head->tracked.value, 2) << kAssign;
  EXPECT_EQ(head.use_count(), 1) << kAssign;
}

// ---------------------------------------------------------------------------
// Step 4 and 5: Weak.

TEST(ArcWeak, DefaultWeakIsExpiredAndUpgradesToNothing) {
  Weak<int> weak;
  EXPECT_TRUE(weak.expired());
  EXPECT_FALSE(weak.Upgrade());
}

TEST(ArcWeak, DowngradeOfAnEmptyArcIsAnEmptyWeak) {
  Arc<int> empty;
  Weak<int> weak = empty.Downgrade();
  EXPECT_TRUE(weak.expired()) << kWeak;
  EXPECT_FALSE(weak.Upgrade()) << kUpgrade;
}

TEST(ArcWeak, DowngradeDoesNotAddAnOwner) {
  Lifetime life;
  auto a = Arc<Tracked>::Make(&life, 1);
  Weak<Tracked> weak = a.Downgrade();
  EXPECT_EQ(a.use_count(), 1) << kWeak;
  EXPECT_FALSE(weak.expired()) << "the T still has an owner. " << kWeak;
  a.reset();
  EXPECT_EQ(life.destroyed, 1)
      << "a Weak must not keep the T alive: it is not an owner. " << kWeak;
  EXPECT_TRUE(weak.expired()) << "the last owner is gone. " << kWeak;
}

TEST(ArcWeak, UpgradeWhileAliveAddsAnOwner) {
  Lifetime life;
  auto a = Arc<Tracked>::Make(&life, 1);
  Weak<Tracked> weak = a.Downgrade();
  Arc<Tracked> upgraded = weak.Upgrade();
  ASSERT_TRUE(upgraded) << kUpgrade;
  EXPECT_TRUE(upgraded == a) << kUpgrade;
  EXPECT_EQ(a.use_count(), 2) << kUpgrade;
  a.reset();
  EXPECT_EQ(life.destroyed, 0) << "the upgraded Arc is an owner. " << kTooEarly;
  EXPECT_EQ(upgraded->value, 1);
  upgraded.reset();
  EXPECT_EQ(life.destroyed, 1) << kNeverDestroyed;
}

TEST(ArcWeak, ExpiredOnlyAfterTheLastOwner) {
  Lifetime life;
  auto a = Arc<Tracked>::Make(&life, 1);
  Arc<Tracked> b = a;
  Weak<Tracked> weak = a.Downgrade();
  a.reset();
  EXPECT_FALSE(weak.expired()) << "b still owns the T. " << kWeak;
  b.reset();
  EXPECT_TRUE(weak.expired()) << kWeak;
}

TEST(ArcWeak, UpgradeAfterTheLastOwnerNeverResurrects) {
  Lifetime life;
  auto a = Arc<Tracked>::Make(&life, 1);
  Weak<Tracked> weak = a.Downgrade();
  a.reset();
  ASSERT_EQ(life.destroyed, 1) << kNeverDestroyed;
  for (int i = 0; i < 3; ++i) {
    Arc<Tracked> upgraded = weak.Upgrade();
    EXPECT_FALSE(upgraded)
        << "Upgrade returned an Arc to a destroyed T: a strong count of 0 is "
           "final, never add 1 to it. "
        << kUpgrade;
    EXPECT_EQ(upgraded.use_count(), 0) << kUpgrade;
  }
  EXPECT_EQ(life.destroyed, 1) << kTwice;
}

// The control block outlives the T as long as a Weak points at it. Copying,
// moving and asking a Weak after the T is gone all read the block: were it
// already freed, --config=asan would report a heap-use-after-free here.
TEST(ArcWeak, TheControlBlockLivesUntilTheLastWeak) {
  Lifetime life;
  auto a = Arc<Tracked>::Make(&life, 1);
  Weak<Tracked> first = a.Downgrade();
  Weak<Tracked> second = first;
  a.reset();
  ASSERT_EQ(life.destroyed, 1) << kNeverDestroyed;
  Weak<Tracked> third = std::move(second);
  EXPECT_TRUE(second.expired()) << "a moved-from Weak is empty. " << kWeak;
  EXPECT_TRUE(third.expired()) << kWeak;
  EXPECT_FALSE(third.Upgrade()) << kUpgrade;
  first = third;
  EXPECT_TRUE(first.expired()) << kWeak;
  Weak<Tracked>& same = first;
  first = same;  // Self-assignment of a Weak is harmless too.
  EXPECT_TRUE(first.expired()) << kWeak;
  EXPECT_EQ(life.destroyed, 1) << kTwice;
}

// The other order: the Weaks go first and the last Arc frees the block. A block
// nobody frees is reported as a leak by --config=asan.
TEST(ArcWeak, WeaksThatGoFirstLeaveTheValueAlive) {
  Lifetime life;
  auto a = Arc<Tracked>::Make(&life, 1);
  {
    Weak<Tracked> weak = a.Downgrade();
    Weak<Tracked> copy = weak;
    Weak<Tracked> moved = std::move(copy);
    EXPECT_FALSE(moved.expired()) << kWeak;
  }
  EXPECT_EQ(life.destroyed, 0)
      << "dropping Weaks must never destroy the T: they do not own it. "
      << kWeak;
  EXPECT_EQ(a.use_count(), 1) << kWeak;
  EXPECT_EQ(a->value, 1);
  a.reset();
  EXPECT_EQ(life.destroyed, 1) << kNeverDestroyed;
}

// ---------------------------------------------------------------------------
// Across threads: what the atomics and their memory orders are for.

// Many threads clone the same T at once, then drop all those clones at once,
// while the main thread drops its own Arc. With a plain `long` count, or an
// atomic load followed by a store, two threads can read the same old value
// and one update is lost: the count ends up wrong and the T is destroyed too
// early, twice, or never. Clones and drops run in separate phases so that a
// lost increment cannot hide behind a lost decrement.
TEST(ArcThreads, ConcurrentClonesAndDropsDestroyTheValueExactlyOnce) {
  constexpr int kThreads = 4;
  constexpr int kClonesPerThread = 200000;  // Long enough to overlap.
  // Under TSan, with other tests on the same two cores, a phase can take
  // seconds; the watchdog still ends the test at 30 s.
  constexpr testing::milliseconds kPhaseDeadline{20000};
  Lifetime life;
  auto arc = Arc<Tracked>::Make(&life, 7);
  std::vector<Arc<Tracked>> handed_out(kThreads, arc);
  ASSERT_EQ(arc.use_count(), kThreads + 1) << kClone;

  // A worker arrives at a phase, then clones and drops a scratch Arc until
  // all workers have arrived, so that the phases really overlap in time even
  // when the threads wake one by one.
  std::atomic<int> cloning{0};
  std::atomic<int> dropping{0};
  std::atomic<bool> late{false};
  auto keep_busy_until_all = [&](const Arc<Tracked>& mine,
                                 std::atomic<int>& arrived) {
    arrived.fetch_add(1);
    const auto end = Clock::now() + kPhaseDeadline;
    while (arrived.load() < kThreads) {
      Arc<Tracked> scratch = mine;
      if (Clock::now() > end) {
        late = true;
        return;
      }
    }
  };
  Latch cloned(kThreads);   // Each worker holds its clones.
  Latch counted(1);         // The main thread has checked the count.
  Latch dropped(kThreads);  // Each worker has dropped its clones.
  Latch checked(1);         // The main thread has checked again.
  std::atomic<int> wrong_values{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    // Each thread uses only its own element, and the main thread only reads
    // the counts until it has joined them all.
    threads.emplace_back([&, i] {
      Arc<Tracked>& mine = handed_out[i];
      std::vector<Arc<Tracked>> clones;
      clones.reserve(kClonesPerThread);
      keep_busy_until_all(mine, cloning);
      for (int n = 0; n < kClonesPerThread; ++n) {
        clones.push_back(mine);
        if (!clones.back() || clones.back()->value != 7) {
          wrong_values.fetch_add(1);
        }
      }
      cloned.CountDown();
      if (!counted.Wait(kPhaseDeadline)) late = true;
      keep_busy_until_all(mine, dropping);
      clones.clear();
      dropped.CountDown();
      if (!checked.Wait(kPhaseDeadline)) late = true;
      mine.reset();  // These drops race each other; exactly one is last.
    });
  }
  WaitUntil([&] { return cloning.load() == kThreads; }, kPhaseDeadline);
  arc.reset();  // While the workers are cloning.
  EXPECT_TRUE(cloned.Wait(kPhaseDeadline))
      << "the workers did not finish cloning in time";
  EXPECT_EQ(handed_out[0].use_count(), kThreads * (1 + kClonesPerThread))
      << "every worker holds its own Arc plus " << kClonesPerThread
      << " clones, but the count says otherwise: updates were lost. Use "
         "atomic read-modify-writes (fetch_add, fetch_sub), not a load "
         "followed by a store. "
      << kClone;
  counted.CountDown();
  EXPECT_TRUE(dropped.Wait(kPhaseDeadline))
      << "the workers did not finish dropping in time";
  EXPECT_EQ(life.destroyed, 0) << "destroyed while " << kThreads
                               << " threads still own it. " << kTooEarly;
  EXPECT_EQ(handed_out[0].use_count(), kThreads)
      << "each worker has dropped its clones and still owns exactly one Arc, "
         "but the count says otherwise: updates were lost. Use atomic "
         "read-modify-writes (fetch_add, fetch_sub), not a load followed by "
         "a store. "
      << kRelease;
  checked.CountDown();
  for (auto& t : threads) t.join();

  EXPECT_FALSE(late) << "a worker thread timed out waiting for the others";
  EXPECT_EQ(wrong_values, 0)
      << "a clone made on a worker thread was empty or saw a wrong value. "
      << kClone;
  EXPECT_EQ(life.destroyed, 1)
      << (life.destroyed == 0 ? kNeverDestroyed : kTwice);
}

// What the last owner must see. Its destructor reads fields that another
// thread wrote just before dropping its own Arc, and nothing but the Arc's
// count orders the two threads: the main thread learns of the drop only from
// use_count(), a relaxed load. The worker's release and the last owner's
// acquire make the write happen-before the destructor. With a relaxed
// decrement this test still passes on x86, but `bazel test --config=tsan`
// reports a data race here. That is what acq_rel buys.
struct Notebook {
  struct Seen {
    int number = 0;
    std::string text;
  };
  explicit Notebook(Seen* seen) : seen(seen) {}
  ~Notebook() {
    seen->number = number;
    seen->text = text;
  }
  Seen* seen;
  int number = 0;
  std::string text;
};

TEST(ArcThreads, TheLastOwnerSeesWhatOtherOwnersWroteBeforeTheyDropped) {
  Notebook::Seen seen;
  auto mine = Arc<Notebook>::Make(&seen);
  Arc<Notebook> theirs = mine;
  ASSERT_EQ(mine.use_count(), 2) << kClone;

  // Only the worker touches `theirs` until it is joined.
  std::thread worker([&theirs] {
    theirs->number = 42;
    theirs->text = "written by the worker before it dropped its Arc";
    theirs.reset();
  });
  bool dropped = WaitUntil([&] { return mine.use_count() == 1; });
  mine.reset();  // The last owner: ~Notebook runs here, on the main thread.
  worker.join();

  EXPECT_TRUE(dropped)
      << "the worker's reset() never brought use_count() back to 1. "
      << kRelease;
  EXPECT_EQ(seen.number, 42)
      << "the destructor did not see the worker's write: the last owner's "
         "decrement must acquire what the other owners released (acq_rel). "
      << kRelease;
  EXPECT_EQ(seen.text, "written by the worker before it dropped its Arc")
      << kRelease;
}

// Upgrade racing the last drop. The worker upgrades in a loop while the main
// thread drops the only Arc. An Upgrade that adds 1 to a count that has already
// reached 0 hands out an Arc to a T whose destructor has run: it must add only
// to a count it has seen to be non-zero (a compare-exchange loop). The race
// window is small, so the test runs many rounds; a load followed by a separate
// fetch_add fails here some of the time.
TEST(ArcThreads, UpgradeRacingTheLastDropNeverReturnsADestroyedValue) {
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    Lifetime life;
    auto arc = Arc<Tracked>::Make(&life, round);
    Weak<Tracked> weak = arc.Downgrade();
    std::atomic<bool> upgrading{false};
    std::atomic<bool> finished{false};
    std::atomic<int> dead_upgrades{0};
    std::atomic<bool> timed_out{false};
    std::thread upgrader([&] {
      const auto end = Clock::now() + kDefaultDeadline;
      while (Arc<Tracked> upgraded = weak.Upgrade()) {
        // We own it now, so it cannot have been destroyed.
        if (life.destroyed != 0 || upgraded->value != round) {
          dead_upgrades.fetch_add(1);
          break;  // Everything after this is use-after-free: stop here.
        }
        upgrading = true;
        if (Clock::now() > end) {
          timed_out = true;
          break;
        }
      }
      finished = true;
    });
    // Drop in the middle of the upgrade loop, not before it starts.
    WaitUntil([&] { return upgrading || finished; });
    bool started = upgrading;
    arc.reset();
    upgrader.join();

    ASSERT_TRUE(started) << "round " << round
                         << ": Upgrade never succeeded while the T was alive. "
                         << kUpgrade;
    ASSERT_EQ(dead_upgrades, 0)
        << "round " << round
        << ": Upgrade returned an Arc to a T that was already destroyed. "
        << kUpgrade;
    ASSERT_FALSE(timed_out)
        << "round " << round
        << ": Upgrade kept succeeding after the last owner dropped its Arc "
           "(a count brought back from 0, or a control block freed too early "
           "and read anyway). "
        << kUpgrade;
    ASSERT_EQ(life.destroyed, 1)
        << "round " << round << ". "
        << (life.destroyed == 0 ? kNeverDestroyed : kTwice);
    ASSERT_TRUE(weak.expired()) << kWeak;
  }
}

// The last Arc and the last Weak go away on two threads at the same moment: the
// block must be freed exactly once, by whichever of them is last. --config=asan
// reports a double free or a leak here, --config=tsan a free racing a read.
TEST(ArcThreads, TheLastArcAndTheLastWeakMayDropOnDifferentThreads) {
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    Lifetime life;
    auto arc = Arc<Tracked>::Make(&life, round);
    Weak<Tracked> weak = arc.Downgrade();
    Latch start(2);
    std::atomic<bool> late{false};
    std::thread weak_holder([&] {
      if (!start.ArriveAndWait()) late = true;
      weak = Weak<Tracked>();  // Drops the last Weak...
    });
    if (!start.ArriveAndWait()) late = true;
    arc.reset();  // ...while this drops the last Arc.
    weak_holder.join();
    ASSERT_FALSE(late) << "the threads did not meet in time";
    ASSERT_EQ(life.destroyed, 1)
        << "round " << round << ". "
        << (life.destroyed == 0 ? kNeverDestroyed : kTwice);
  }
}

}  // namespace
}  // namespace loop
