#include "loop/wake_kind.h"

#include <stdexcept>
#include <string>

namespace loop {

const char* WakerKindName(WakerKind kind) {
  switch (kind) {
    case WakerKind::kEventfd:
      return "eventfd";
    case WakerKind::kKqueueUser:
      return "kqueue_user";
    case WakerKind::kPipe:
      return "pipe";
  }
  return "unknown";
}

std::vector<WakerKind> AvailableWakerKinds(Backend backend) {
  std::vector<WakerKind> kinds;
#ifdef __linux__
  kinds.push_back(WakerKind::kEventfd);
#endif
  if (backend == Backend::kKqueue) kinds.push_back(WakerKind::kKqueueUser);
  kinds.push_back(WakerKind::kPipe);
  return kinds;
}

void CheckWakerKindFits(WakerKind kind, Backend backend) {
  for (WakerKind k : AvailableWakerKinds(backend)) {
    if (k == kind) return;
  }
  throw std::invalid_argument(std::string("a ") + WakerKindName(kind) +
                              " waker does not work on the " +
                              BackendName(backend) + " backend here");
}

const char* WakeResultName(WakeResult result) {
  switch (result) {
    case WakeResult::kWoken:
      return "kWoken";
    case WakeResult::kPollGone:
      return "kPollGone";
  }
  return "unknown";
}

}  // namespace loop
