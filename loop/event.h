// Token, Interest, Event and Events: the words every backend speaks.
//
// A user registers a file descriptor with a Token (a number of their choosing)
// and an Interest (readable, writable or both). A selector's Select (from
// lesson 05 on, Poll::Wait) then fills an Events buffer with Event values, each
// naming the Token and what became ready. None of these types knows about epoll
// or kqueue: the selectors (epoll_selector.h, kqueue_selector.h) translate.
//
// All four are plain values: copy them freely. They are not synchronized; an
// Events buffer belongs to the one thread that polls with it.
#ifndef LOOP_EVENT_H_
#define LOOP_EVENT_H_

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <vector>

namespace loop {

// The caller's name for a registration, handed back in every Event for it. The
// loop never interprets it: use an index into your connection table, a pointer
// cast to an integer, anything that fits in 64 bits.
struct Token {
  std::uint64_t value = 0;
};

inline bool operator==(Token a, Token b) { return a.value == b.value; }
inline bool operator!=(Token a, Token b) { return a.value != b.value; }
std::ostream& operator<<(std::ostream& os, Token token);

// Which readiness a registration asks for. Never empty: there is no way to
// build an Interest without at least one direction, so "registered for nothing"
// cannot be said.
class Interest {
 public:
  static const Interest kReadable;
  static const Interest kWritable;

  constexpr bool is_readable() const { return (bits_ & kReadBit) != 0; }
  constexpr bool is_writable() const { return (bits_ & kWriteBit) != 0; }

  friend constexpr Interest operator|(Interest a, Interest b) {
    return Interest(static_cast<std::uint8_t>(a.bits_ | b.bits_));
  }
  friend constexpr bool operator==(Interest a, Interest b) {
    return a.bits_ == b.bits_;
  }
  friend constexpr bool operator!=(Interest a, Interest b) {
    return a.bits_ != b.bits_;
  }

 private:
  static constexpr std::uint8_t kReadBit = 1;
  static constexpr std::uint8_t kWriteBit = 2;
  constexpr explicit Interest(std::uint8_t bits) : bits_(bits) {}
  std::uint8_t bits_;
};

inline constexpr Interest Interest::kReadable{Interest::kReadBit};
inline constexpr Interest Interest::kWritable{Interest::kWriteBit};

// "READABLE", "WRITABLE" or "READABLE | WRITABLE".
std::ostream& operator<<(std::ostream& os, Interest interest);

// One readiness report: "the source registered with token() may now be
// readable, ...". It is a hint, not a promise: the operation it suggests may
// still fail with EAGAIN, and a source may be reported when nothing changed
// (see "spurious events" in lessons/04_poll/README.md). Selectors build Events
// from what the kernel returned.
class Event {
 public:
  // Readiness bits. A selector ORs them together:
  //   Event(token, Event::kReadable | Event::kReadClosed)
  enum Readiness : unsigned {
    kReadable = 1u << 0,
    kWritable = 1u << 1,
    kError = 1u << 2,
    kReadClosed = 1u << 3,
    kWriteClosed = 1u << 4,
  };

  constexpr Event() = default;
  constexpr Event(Token token, unsigned readiness)
      : token_(token), readiness_(readiness) {}

  constexpr Token token() const { return token_; }
  // A read may make progress (data, or the end-of-stream it will report as 0).
  constexpr bool is_readable() const { return Has(kReadable); }
  // A write may make progress.
  constexpr bool is_writable() const { return Has(kWritable); }
  // An error is pending on the source (for a socket, read it with SO_ERROR).
  constexpr bool is_error() const { return Has(kError); }
  // The peer will send nothing more: reads return what is buffered, then 0.
  constexpr bool is_read_closed() const { return Has(kReadClosed); }
  // Writes can no longer succeed (the reader is gone or the connection failed).
  constexpr bool is_write_closed() const { return Has(kWriteClosed); }
  // All bits at once, for logging and tests.
  constexpr unsigned readiness() const { return readiness_; }

 private:
  constexpr bool Has(unsigned bit) const { return (readiness_ & bit) != 0; }

  Token token_;
  unsigned readiness_ = 0;
};

// "Event{token 7: readable read-closed}", for test failures and logs.
std::ostream& operator<<(std::ostream& os, const Event& event);

// A reusable buffer of at most capacity() events, filled by a selector's Select
// (or lesson 05's Poll::Wait). Each Select starts by clearing it, so one buffer
// serves a whole loop without allocating. When more sources are ready than fit,
// the rest are reported by the next Select: a small capacity costs system
// calls, never events.
class Events {
 public:
  // Throws std::invalid_argument for capacity 0: a buffer with room for
  // nothing could never report an event.
  explicit Events(std::size_t capacity);

  std::size_t capacity() const { return capacity_; }
  std::size_t size() const { return events_.size(); }
  bool empty() const { return events_.empty(); }
  const Event* begin() const { return events_.data(); }
  const Event* end() const { return events_.data() + events_.size(); }
  const Event& operator[](std::size_t i) const { return events_[i]; }
  void clear() { events_.clear(); }

  // For selectors: appends one event. Throws std::length_error when already
  // full (a selector clears the buffer, then asks the kernel for at most
  // capacity() events).
  void push_back(const Event& event);

 private:
  std::size_t capacity_;
  std::vector<Event> events_;
};

}  // namespace loop

#endif  // LOOP_EVENT_H_
