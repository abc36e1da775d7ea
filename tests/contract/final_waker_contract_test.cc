// The lesson 06/07 waker contract (tests/support/waker_suite.h) on
// the finished Waker (//:loop, loop/waker.h), for every kind on every backend.
//
// The suite builds wakers as Waker(Registry&, Token) and calls void Wake().
// The final Waker also takes a WakerKind, and each of its constructors adds a
// wake source that the Poll keeps until it is destroyed ("one Waker per token
// per Poll, and copy it", loop/waker.h). So the adapter below does what that
// header says: the first handle for a (Poll, token) constructs the Waker, later
// ones copy it. The suite's ThousandWakersLeakNoDescriptor then checks that
// handles leak nothing; tests/stress checks Poll + Waker cycles.
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "gtest/gtest.h"
#include "loop/loop.h"
#include "tests/support/waker_suite.h"

namespace loop {
namespace testing {
namespace {

// One Waker per (Poll, token, kind), owned by the Poll through
// Registry::Retain, so it goes when the Poll goes. Found again through a
// weak_ptr keyed by the Registry's address: a later Poll at the same address
// finds it expired.
struct WakerTable {
  std::map<std::pair<std::uint64_t, int>, Waker> wakers;
};

Waker HandleFor(Registry& registry, Token token, WakerKind kind) {
  static std::mutex mu;
  static std::map<Registry*, std::weak_ptr<WakerTable>> tables;
  std::lock_guard<std::mutex> lock(mu);
  std::shared_ptr<WakerTable> table = tables[&registry].lock();
  if (!table) {
    table = std::make_shared<WakerTable>();
    registry.Retain(table);
    tables[&registry] = table;
  }
  const auto key = std::make_pair(token.value, static_cast<int>(kind));
  auto it = table->wakers.find(key);
  if (it == table->wakers.end()) {
    it = table->wakers.emplace(key, Waker(registry, token, kind)).first;
  }
  return it->second;  // A copy: one more owner.
}

}  // namespace

// Not in the anonymous namespace: the suite's lambdas capture a FinalWaker, and
// the case types that name it are global (see below), which gcc would warn
// about (-Wsubobject-linkage).
template <WakerKind kKind>
class FinalWaker {
 public:
  FinalWaker(Registry& registry, Token token)
      : waker_(HandleFor(registry, token, kKind)) {}
  void Wake() {
    const WakeResult result = waker_.Wake();
    EXPECT_EQ(result, WakeResult::kWoken)
        << "Wake() with the Poll alive must return kWoken, got "
        << WakeResultName(result);
  }

 private:
  Waker waker_;
};

inline constexpr char kReadme[] = " See lessons/10_fast_waker/README.md.";

// What the loop does after the waker's event: nothing. Lessons 06 and 07
// needed Drain() for a pipe; the final Waker is drained by Poll::Wait itself
// when it reports the token (mio's contract), on every kind.
template <WakerKind kKind, Backend kB>
struct Case {
  using Waker = FinalWaker<kKind>;
  static constexpr Backend kBackend = kB;
  static constexpr const char* kReadme = ::loop::testing::kReadme;
  static void AfterWakeEvent(Waker&) {}
};

}  // namespace testing
}  // namespace loop

// The cases are named in the global namespace so that gtest names them
// shortly: "where TypeParam = EventfdOnEpoll".
#define LOOP_CASE(Type, kind, backend, name)                     \
  struct Type : loop::testing::Case<loop::kind, loop::backend> { \
    static constexpr const char* kName = name;                   \
  }

#ifdef __linux__
LOOP_CASE(EventfdOnEpoll, WakerKind::kEventfd, Backend::kEpoll,
          "EventfdOnEpoll");
LOOP_CASE(PipeOnEpoll, WakerKind::kPipe, Backend::kEpoll, "PipeOnEpoll");
LOOP_CASE(EventfdOnKqueue, WakerKind::kEventfd, Backend::kKqueue,
          "EventfdOnKqueue");
#endif
LOOP_CASE(KqueueUserOnKqueue, WakerKind::kKqueueUser, Backend::kKqueue,
          "KqueueUserOnKqueue");
LOOP_CASE(PipeOnKqueue, WakerKind::kPipe, Backend::kKqueue, "PipeOnKqueue");
#undef LOOP_CASE

namespace loop {
namespace testing {
namespace {

using AllCases = ::testing::Types<
#ifdef __linux__
    EventfdOnEpoll, PipeOnEpoll, EventfdOnKqueue,
#endif
    KqueueUserOnKqueue, PipeOnKqueue>;
INSTANTIATE_TYPED_TEST_SUITE_P(FinalWaker, WakerSuite, AllCases, WakerCaseName);

}  // namespace
}  // namespace testing
}  // namespace loop
