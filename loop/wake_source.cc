// The Waker's handles and its shared WakeSource, apart from the fast path
// (waker.cc). See loop/waker.h for the contract, loop/wake_source.h for who
// owns what.
#include "loop/wake_source.h"

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace loop {
namespace internal {
namespace {

// Set by SetDrainHookForTesting; run by ConsumeSource before it reads.
std::function<void()>& DrainHook() {
  static std::function<void()> hook;
  return hook;
}

// The Poll's share of a WakeSource, kept by the Registry (OnReport) until the
// Poll is destroyed, after its selector fd is closed. It drains the source
// whenever Wait() reports the token, and its destruction is how the source
// learns that the Poll is gone.
class PollLink : public ReportHook {
 public:
  explicit PollLink(Arc<WakeSource> source) : source_(std::move(source)) {}
  ~PollLink() override { source_->PollGone(); }

  PollLink(const PollLink&) = delete;
  PollLink& operator=(const PollLink&) = delete;

  void Reported() override { source_->Drain(); }

 private:
  Arc<WakeSource> source_;
};

std::unique_ptr<WakeMechanism> MakeMechanism(Registry& registry, Token token,
                                             WakerKind kind) {
  switch (kind) {
    case WakerKind::kEventfd:
      return MakeEventfdWake(registry, token);
    case WakerKind::kPipe:
      return MakePipeWake(registry, token);
    case WakerKind::kKqueueUser:
      return MakeKqueueUserWake(registry, token);
  }
  throw std::invalid_argument("unknown WakerKind " +
                              std::to_string(static_cast<int>(kind)));
}

}  // namespace

void WakeSource::Signal() const {
  try {
    mechanism_->Signal();
  } catch (...) {
    pending_.store(false, std::memory_order_release);
    throw;
  }
}

void WakeSource::ConsumeSource() const {
  if (DrainHook()) DrainHook()();
  try {
    mechanism_->Consume();
  } catch (...) {
    // The source may still hold a signal that an edge-triggered Poll will not
    // report again: clear the flag, so that the next Wake() signals anew.
    pending_.store(false, std::memory_order_release);
    throw;
  }
}

}  // namespace internal

void SetDrainHookForTesting(std::function<void()> hook) {
  internal::DrainHook() = std::move(hook);
}

Waker::Waker(Registry& registry, Token token, WakerKind kind)
    : token_(token), kind_(kind) {
  CheckWakerKindFits(kind, registry.backend());
  source_ = Arc<internal::WakeSource>::Make(
      internal::MakeMechanism(registry, token, kind));
  // The Poll's share: the source now lives at least as long as the Poll, and
  // the Poll drains it whenever it reports the token.
  registry.OnReport(token, std::make_shared<internal::PollLink>(source_));
}

// Copies and moves are the Arc's: a copy is one more owner, a move hands ours
// over.
Waker::Waker(const Waker& other) = default;
Waker& Waker::operator=(const Waker& other) = default;
Waker::Waker(Waker&& other) noexcept = default;
Waker& Waker::operator=(Waker&& other) noexcept = default;
Waker::~Waker() = default;

WakeResult Waker::Wake() const {
  if (!source_) throw std::logic_error("Wake() on a moved-from Waker");
  return source_->Wake();
}

}  // namespace loop
