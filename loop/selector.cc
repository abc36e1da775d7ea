#include "loop/selector.h"

#include <climits>
#include <stdexcept>
#include <string>

#ifdef __linux__
#include "loop/epoll_selector.h"
#endif
#include "loop/kqueue_selector.h"

namespace loop {

std::vector<Backend> AvailableBackends() {
#ifdef __linux__
  return {Backend::kEpoll, Backend::kKqueue};
#else
  return {Backend::kKqueue};
#endif
}

Backend DefaultBackend() {
#ifdef __linux__
  return Backend::kEpoll;
#else
  return Backend::kKqueue;
#endif
}

const char* BackendName(Backend backend) {
  switch (backend) {
    case Backend::kEpoll:
      return "epoll";
    case Backend::kKqueue:
      return "kqueue";
  }
  return "unknown backend";
}

std::ostream& operator<<(std::ostream& os, Backend backend) {
  return os << BackendName(backend);
}

std::unique_ptr<Selector> MakeSelector(Backend backend) {
  switch (backend) {
    case Backend::kEpoll:
#ifdef __linux__
      return std::make_unique<EpollSelector>();
#else
      throw std::invalid_argument(
          "MakeSelector(epoll): epoll exists only on Linux, so this build has "
          "no epoll selector; use Backend::kKqueue (see AvailableBackends())");
#endif
    case Backend::kKqueue:
      return std::make_unique<KqueueSelector>();
  }
  throw std::invalid_argument("MakeSelector: unknown backend " +
                              std::to_string(static_cast<int>(backend)));
}

int TimeoutMillis(std::optional<std::chrono::milliseconds> timeout) {
  if (!timeout.has_value()) return -1;
  if (timeout->count() <= 0) return 0;
  if (timeout->count() >= INT_MAX) return INT_MAX;
  return static_cast<int>(timeout->count());
}

}  // namespace loop
