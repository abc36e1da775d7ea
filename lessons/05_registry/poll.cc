#include "loop/poll.h"

#include <utility>
#include <vector>

#include "lessons/todo.h"

namespace loop {

Poll::Poll(Backend backend)
    : selector_(MakeSelector(backend)), registry_(*selector_) {}

Poll::~Poll() {
  // Given. Retained resources outlive the selector fd: close the selector
  // first, release them after. Lesson 09 explains why this order matters for
  // a Waker's wake source.
  std::vector<std::shared_ptr<void>> retained = registry_.TakeRetained();
  selector_.reset();
}

Backend Poll::backend() const { return selector_->backend(); }

void Poll::Wait(Events& /*events*/,
                std::optional<std::chrono::milliseconds> /*timeout*/) {
  LOOP_TODO("05", "05_registry",
            "Poll::Wait: hand events and timeout to the selector's Select, "
            "unchanged (nullopt = no limit)");
}

}  // namespace loop
