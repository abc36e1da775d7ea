#include "loop/epoll_selector.h"

#include <algorithm>
#include <climits>

namespace loop {

std::uint32_t EpollEventsFor(Interest interest) {
  // EPOLLET: edge-triggered, the contract of every selector. EPOLLRDHUP:
  // without it a socket whose peer called shutdown(SHUT_WR) looks merely
  // "readable", and the end of the stream is only discovered by a read()
  // returning 0.
  std::uint32_t events = EPOLLET | EPOLLRDHUP;
  if (interest.is_readable()) events |= EPOLLIN;
  if (interest.is_writable()) events |= EPOLLOUT;
  return events;
}

Event EventFromEpoll(const epoll_event& event) {
  const std::uint32_t e = event.events;
  unsigned readiness = 0;
  // EPOLLPRI is urgent (out-of-band) data: still something to read.
  if (e & (EPOLLIN | EPOLLPRI)) readiness |= Event::kReadable;
  if (e & EPOLLOUT) readiness |= Event::kWritable;
  if (e & EPOLLERR) readiness |= Event::kError;
  // EPOLLRDHUP: the peer shut down its sending side. EPOLLHUP: both directions
  // are gone (a socket shut down both ways or whose peer closed; a pipe's read
  // end whose last writer closed). Either way, reads will end with 0.
  if (e & (EPOLLHUP | EPOLLRDHUP)) readiness |= Event::kReadClosed;
  // EPOLLHUP also ends the writing side. EPOLLERR is how Linux reports the
  // write end of a pipe whose readers are gone (writes fail with EPIPE) and a
  // socket whose connection failed: the next write fails too.
  if (e & (EPOLLHUP | EPOLLERR)) readiness |= Event::kWriteClosed;
  return Event(Token{event.data.u64}, readiness);
}

EpollSelector::EpollSelector() : epoll_(Epoll::Create()) {}

void EpollSelector::Register(int fd, Token token, Interest interest) {
  epoll_.Add(fd, EpollEventsFor(interest), token.value);
}

void EpollSelector::Reregister(int fd, Token token, Interest interest) {
  epoll_.Modify(fd, EpollEventsFor(interest), token.value);
}

void EpollSelector::Deregister(int fd) { epoll_.Delete(fd); }

void EpollSelector::Select(Events& events,
                           std::optional<std::chrono::milliseconds> timeout) {
  events.clear();
  const std::size_t want = std::min<std::size_t>(
      events.capacity(), static_cast<std::size_t>(INT_MAX));
  if (buffer_.size() < want) buffer_.resize(want);
  // Epoll::Wait retries EINTR with the remaining time.
  const int n = epoll_.Wait(buffer_.data(), static_cast<int>(want),
                            TimeoutMillis(timeout));
  for (int i = 0; i < n; ++i) events.push_back(EventFromEpoll(buffer_[i]));
}

}  // namespace loop
