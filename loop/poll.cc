#include "loop/poll.h"

#include <utility>
#include <vector>

namespace loop {

Poll::Poll(Backend backend)
    : selector_(MakeSelector(backend)), registry_(*selector_) {}

Poll::~Poll() {
  // Retained resources outlive the selector fd: close the selector first,
  // release them after. Lesson 09 explains why this order matters for a Waker's
  // wake source.
  std::vector<std::shared_ptr<void>> retained = registry_.TakeRetained();
  selector_.reset();
}

Backend Poll::backend() const { return selector_->backend(); }

void Poll::Wait(Events& events,
                std::optional<std::chrono::milliseconds> timeout) {
  selector_->Select(events, timeout);
  // A Waker's source is emptied here when its token is reported (lesson 10,
  // loop/waker.cc), so nobody who uses a Waker has to drain it.
  registry_.RunReportHooks(events);
}

}  // namespace loop
