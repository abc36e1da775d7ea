// Lesson 04, part 2 of 2: the kqueue selector. Write the three functions marked
// TODO; the rest is given. Read lessons/04_poll/README.md first ("Reading the
// kernel's flags").
#include "loop/kqueue_selector.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>

#include "lessons/todo.h"

namespace loop {

std::array<struct kevent, 2> KqueueChangesFor(int /*fd*/, Token /*token*/,
                                              Interest /*interest*/) {
  LOOP_TODO(
      "04", "04_poll",
      "KqueueChangesFor: [0] EVFILT_READ, [1] EVFILT_WRITE; a wanted filter "
      "is EV_ADD | EV_CLEAR with the token in udata, an unwanted one EV_DELETE "
      "(use EV_SET)");
}

Event EventFromKevent(const struct kevent& /*kev*/) {
  LOOP_TODO(
      "04", "04_poll",
      "EventFromKevent: EVFILT_READ -> readable (+ read-closed on EV_EOF), "
      "EVFILT_WRITE -> writable (+ write-closed on EV_EOF), EVFILT_USER -> "
      "readable, EV_ERROR or EV_EOF with fflags -> error; token from udata");
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

void KqueueSelector::Select(
    Events& /*events*/, std::optional<std::chrono::milliseconds> /*timeout*/) {
  LOOP_TODO(
      "04", "04_poll",
      "KqueueSelector::Select: clear events, wait with kqueue_.Wait into "
      "buffer_ (at most events.capacity() entries, TimeoutMillis(timeout)), "
      "and push_back EventFromKevent of each");
}

}  // namespace loop
