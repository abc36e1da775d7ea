#include "loop/event.h"

#include <stdexcept>

namespace loop {

std::ostream& operator<<(std::ostream& os, Token token) {
  return os << "Token(" << token.value << ")";
}

std::ostream& operator<<(std::ostream& os, Interest interest) {
  if (interest.is_readable() && interest.is_writable()) {
    return os << "READABLE | WRITABLE";
  }
  return os << (interest.is_readable() ? "READABLE" : "WRITABLE");
}

std::ostream& operator<<(std::ostream& os, const Event& event) {
  os << "Event{token " << event.token().value << ":";
  if (event.is_readable()) os << " readable";
  if (event.is_writable()) os << " writable";
  if (event.is_error()) os << " error";
  if (event.is_read_closed()) os << " read-closed";
  if (event.is_write_closed()) os << " write-closed";
  if (event.readiness() == 0) os << " nothing";
  return os << "}";
}

Events::Events(std::size_t capacity) : capacity_(capacity) {
  if (capacity == 0) {
    throw std::invalid_argument(
        "Events(0): a buffer for zero events could never report anything; "
        "use a capacity of at least 1");
  }
  events_.reserve(capacity);
}

void Events::push_back(const Event& event) {
  if (events_.size() >= capacity_) {
    throw std::length_error("Events::push_back: the buffer is full (capacity " +
                            std::to_string(capacity_) + ")");
  }
  events_.push_back(event);
}

}  // namespace loop
