// Reading a poll's events in tests: did a token show up, and what was
// reported, as text for a failure message.
//
// Templates over any range of events whose elements have token(), readiness()
// and operator<< (loop::Event from lesson 04 on), so that lesson 04's tests can
// use them on the learner's Event and later lessons on the reference one.
// Header-only, no state, thread-safe.
#ifndef TESTS_SUPPORT_EVENTS_H_
#define TESTS_SUPPORT_EVENTS_H_

#include <sstream>
#include <string>

namespace loop {
namespace testing {

// True if some event in `events` is for `token` and has every readiness bit
// in `readiness` (0: any event for the token).
template <typename EventRange, typename TokenType>
bool HasToken(const EventRange& events, TokenType token,
              unsigned readiness = 0) {
  for (const auto& e : events) {
    if (e.token() == token && (e.readiness() & readiness) == readiness) {
      return true;
    }
  }
  return false;
}

// "no events", or the events separated by ", ":
// "Event{token 1: readable}, Event{token 2: writable}".
template <typename EventRange>
std::string DescribeEvents(const EventRange& events) {
  std::ostringstream out;
  const char* separator = "";
  for (const auto& e : events) {
    out << separator << e;
    separator = ", ";
  }
  const std::string text = out.str();
  return text.empty() ? "no events" : text;
}

}  // namespace testing
}  // namespace loop

#endif  // TESTS_SUPPORT_EVENTS_H_
