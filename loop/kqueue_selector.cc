#include "loop/kqueue_selector.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>

namespace loop {

std::array<struct kevent, 2> KqueueChangesFor(int fd, Token token,
                                              Interest interest) {
  std::array<struct kevent, 2> changes{};
  const int filters[2] = {EVFILT_READ, EVFILT_WRITE};
  const bool wanted[2] = {interest.is_readable(), interest.is_writable()};
  for (int i = 0; i < 2; ++i) {
    // EV_CLEAR: report a transition once, then stay quiet until the next one
    // (edge-triggered). EV_ADD on a filter that exists updates it in place.
    EV_SET(&changes[i], fd, filters[i],
           wanted[i] ? EV_ADD | EV_CLEAR : EV_DELETE, 0, 0,
           wanted[i] ? TokenToUdata(token) : nullptr);
  }
  return changes;
}

Event EventFromKevent(const struct kevent& kev) {
  const Token token = TokenFromUdata(kev.udata);
  // EV_ERROR in an event list is a failed change; data holds its errno.
  if (kev.flags & EV_ERROR) return Event(token, Event::kError);
  unsigned readiness = 0;
  const bool eof = (kev.flags & EV_EOF) != 0;
  switch (kev.filter) {
    case EVFILT_READ:
      // With EV_EOF, data may still be buffered; reads return it, then 0.
      readiness |= Event::kReadable;
      if (eof) readiness |= Event::kReadClosed;
      break;
    case EVFILT_WRITE:
      readiness |= Event::kWritable;
      if (eof) readiness |= Event::kWriteClosed;
      break;
    case EVFILT_USER:
      // A user-triggered event (lesson 07's waker): there is something to take.
      readiness |= Event::kReadable;
      break;
    default:
      break;
  }
  // On EOF, sockets put their pending error (if any) in fflags.
  if (eof && kev.fflags != 0) readiness |= Event::kError;
  return Event(token, readiness);
}

KqueueSelector::KqueueSelector() : kqueue_(Kqueue::Create()) {}

void KqueueSelector::Register(int fd, Token token, Interest interest) {
  // The unwanted direction is an EV_DELETE of a filter that usually does not
  // exist: its ENOENT is expected.
  const auto changes = KqueueChangesFor(fd, token, interest);
  kqueue_.Apply(changes.data(), static_cast<int>(changes.size()), ENOENT);
}

void KqueueSelector::Reregister(int fd, Token token, Interest interest) {
  const auto changes = KqueueChangesFor(fd, token, interest);
  kqueue_.Apply(changes.data(), static_cast<int>(changes.size()), ENOENT);
}

void KqueueSelector::Deregister(int fd) {
  struct kevent changes[2];
  EV_SET(&changes[0], fd, EVFILT_READ, EV_DELETE, 0, 0, nullptr);
  EV_SET(&changes[1], fd, EVFILT_WRITE, EV_DELETE, 0, 0, nullptr);
  // An fd registered for one direction has no filter for the other.
  kqueue_.Apply(changes, 2, ENOENT);
}

void KqueueSelector::Select(Events& events,
                            std::optional<std::chrono::milliseconds> timeout) {
  events.clear();
  const std::size_t want = std::min<std::size_t>(
      events.capacity(), static_cast<std::size_t>(INT_MAX));
  if (buffer_.size() < want) buffer_.resize(want);
  // Kqueue::Wait retries EINTR with the remaining time.
  const int n = kqueue_.Wait(buffer_.data(), static_cast<int>(want),
                             TimeoutMillis(timeout));
  for (int i = 0; i < n; ++i) events.push_back(EventFromKevent(buffer_[i]));
}

}  // namespace loop
