// Lesson 04, part 1 of 2: the epoll selector. Write the three functions marked
// TODO; the rest is given. Read lessons/04_poll/README.md first ("Reading the
// kernel's flags").
#include "loop/epoll_selector.h"

#include <algorithm>
#include <climits>

#include "lessons/todo.h"

namespace loop {

std::uint32_t EpollEventsFor(Interest /*interest*/) {
  LOOP_TODO(
      "04", "04_poll",
      "EpollEventsFor: EPOLLET | EPOLLRDHUP, plus EPOLLIN if readable and "
      "EPOLLOUT if writable");
}

Event EventFromEpoll(const epoll_event& /*event*/) {
  LOOP_TODO(
      "04", "04_poll",
      "EventFromEpoll: turn event.events into Event bits (readable, writable, "
      "error, read-closed, write-closed) and event.data.u64 into the Token");
}

EpollSelector::EpollSelector() : epoll_(Epoll::Create()) {}

void EpollSelector::Register(int fd, Token token, Interest interest) {
  epoll_.Add(fd, EpollEventsFor(interest), token.value);
}

void EpollSelector::Reregister(int fd, Token token, Interest interest) {
  epoll_.Modify(fd, EpollEventsFor(interest), token.value);
}

void EpollSelector::Deregister(int fd) { epoll_.Delete(fd); }

void EpollSelector::Select(
    Events& /*events*/, std::optional<std::chrono::milliseconds> /*timeout*/) {
  LOOP_TODO(
      "04", "04_poll",
      "EpollSelector::Select: clear events, wait with epoll_.Wait into "
      "buffer_ (at most events.capacity() entries, TimeoutMillis(timeout)), "
      "and push_back EventFromEpoll of each");
}

}  // namespace loop
