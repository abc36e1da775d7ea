// Lesson 04: one Selector API over two backends.
//
// This file is compiled twice (see BUILD.bazel): poll_epoll_test with
// LOOP_TEST_BACKEND=kEpoll and poll_kqueue_test with LOOP_TEST_BACKEND=kKqueue.
// The behaviour tests (PollTest.*) are the same for both: that is the point of
// a Selector. The mapping tests look at one backend's translation and are only
// in its target.
//
// Events are hints and the contract allows extra ones, so these tests look for
// the event they expect and never count events exactly. Every wait has a
// deadline.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "loop/event.h"
#include "loop/fd.h"
#include "loop/selector.h"
#include "loop/sys_error.h"
#include "tests/support/deadline.h"
#include "tests/support/errors.h"
#include "tests/support/events.h"
#include "tests/support/fds.h"
#include "tests/support/pipes.h"

#ifdef __linux__
#include "loop/epoll_selector.h"
#endif
#include "loop/kqueue_selector.h"

#ifndef LOOP_TEST_BACKEND
#error "Build with LOOP_TEST_BACKEND=kEpoll or kKqueue (see BUILD.bazel)."
#endif

// LOOP_TEST_BACKEND is an enumerator name; turn it into a number the
// preprocessor can compare, so each target compiles only its own backend's
// mapping tests.
#define LOOP_BACKEND_NUMBER_kEpoll 1
#define LOOP_BACKEND_NUMBER_kKqueue 2
#define LOOP_CONCAT_INNER(a, b) a##b
#define LOOP_CONCAT(a, b) LOOP_CONCAT_INNER(a, b)
#define LOOP_TEST_BACKEND_NUMBER \
  LOOP_CONCAT(LOOP_BACKEND_NUMBER_, LOOP_TEST_BACKEND)

namespace loop {
namespace {

using std::chrono::milliseconds;
using testing::DescribeEvents;
using testing::kDefaultDeadline;
using testing::NonBlockingPipe;
using testing::NonBlockingSocketPair;
using testing::SysErrorFrom;

constexpr Backend kBackend = Backend::LOOP_TEST_BACKEND;
constexpr char kReadme[] = " See lessons/04_poll/README.md.";
// How long a "nothing more is reported" check looks. Readiness is recorded by
// the kernel when the write happens, before the check starts, so this is
// margin, not a race: a wrong implementation fails however long it is.
constexpr milliseconds kQuiet{20};

bool IsBuilt(Backend backend) {
  const std::vector<Backend> built = AvailableBackends();
  return std::find(built.begin(), built.end(), backend) != built.end();
}

void WriteByte(int fd) {
  const char byte = 'x';
  ASSERT_EQ(write(fd, &byte, 1), 1) << DescribeSysError(
      "test setup: write(fd " + std::to_string(fd) + ")", errno);
}

// -----------------------------------------------------------------------------
// The vocabulary types: given in the starter, they pass from the start.

TEST(TokenTest, ComparesByValue) {
  EXPECT_EQ(Token{7}, Token{7});
  EXPECT_NE(Token{7}, Token{8});
  EXPECT_EQ(Token{}.value, 0u);
}

TEST(InterestTest, CombinesWithOr) {
  EXPECT_TRUE(Interest::kReadable.is_readable());
  EXPECT_FALSE(Interest::kReadable.is_writable());
  EXPECT_TRUE(Interest::kWritable.is_writable());
  EXPECT_FALSE(Interest::kWritable.is_readable());
  const Interest both = Interest::kReadable | Interest::kWritable;
  EXPECT_TRUE(both.is_readable() && both.is_writable());
  EXPECT_NE(both, Interest::kReadable);
}

TEST(EventTest, ReportsTheBitsItWasBuiltWith) {
  const Event e(Token{3}, Event::kReadable | Event::kReadClosed);
  EXPECT_EQ(e.token(), Token{3});
  EXPECT_TRUE(e.is_readable());
  EXPECT_TRUE(e.is_read_closed());
  EXPECT_FALSE(e.is_writable());
  EXPECT_FALSE(e.is_error());
  EXPECT_FALSE(e.is_write_closed());
}

TEST(EventsTest, HoldsAtMostItsCapacity) {
  Events events(2);
  EXPECT_EQ(events.capacity(), 2u);
  EXPECT_TRUE(events.empty());
  events.push_back(Event(Token{1}, Event::kReadable));
  events.push_back(Event(Token{2}, Event::kWritable));
  EXPECT_EQ(events.size(), 2u);
  EXPECT_THROW(events.push_back(Event(Token{3}, Event::kReadable)),
               std::length_error);
  events.clear();
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(events.capacity(), 2u);
  EXPECT_THROW(Events(0), std::invalid_argument);
}

TEST(BackendTest, TheDefaultIsBuiltAndNamed) {
  EXPECT_TRUE(IsBuilt(DefaultBackend()));
  EXPECT_STREQ(BackendName(Backend::kEpoll), "epoll");
  EXPECT_STREQ(BackendName(Backend::kKqueue), "kqueue");
#ifdef __linux__
  EXPECT_EQ(DefaultBackend(), Backend::kEpoll);
  EXPECT_TRUE(IsBuilt(Backend::kKqueue))
      << "Linux builds kqueue on the emulation";
#endif
}

TEST(BackendTest, AMissingBackendIsAClearError) {
  for (Backend backend : {Backend::kEpoll, Backend::kKqueue}) {
    if (IsBuilt(backend)) continue;
    try {
      MakeSelector(backend);
      ADD_FAILURE() << "MakeSelector(" << backend
                    << ") should throw on this OS";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(BackendName(backend)),
                std::string::npos)
          << e.what();
    }
  }
  if (AvailableBackends().size() == 2) {
    GTEST_SKIP()
        << "every backend is built on this OS (Linux), nothing to refuse";
  }
}

// -----------------------------------------------------------------------------
// The backend's translation, checked without the kernel: interest ->
// registration, kernel report -> Event.

#if LOOP_TEST_BACKEND_NUMBER == 1 && defined(__linux__)  // epoll: Linux only

TEST(EpollMappingTest, InterestBecomesEdgeTriggeredFlags) {
  const std::uint32_t r = EpollEventsFor(Interest::kReadable);
  EXPECT_TRUE(r & EPOLLIN) << "readable interest needs EPOLLIN." << kReadme;
  EXPECT_FALSE(r & EPOLLOUT) << "readable alone must not ask for EPOLLOUT: a "
                                "socket is almost always writable, so every "
                                "Select would report it.";
  EXPECT_TRUE(r & EPOLLET) << "registrations are edge-triggered (EPOLLET)."
                           << kReadme;
  EXPECT_TRUE(r & EPOLLRDHUP)
      << "without EPOLLRDHUP epoll does not report a peer's shutdown(SHUT_WR) "
         "as read-closed."
      << kReadme;

  const std::uint32_t w = EpollEventsFor(Interest::kWritable);
  EXPECT_TRUE(w & EPOLLOUT) << "writable interest needs EPOLLOUT." << kReadme;
  EXPECT_FALSE(w & EPOLLIN) << "writable alone must not ask for EPOLLIN.";
  EXPECT_TRUE(w & EPOLLET) << "registrations are edge-triggered (EPOLLET).";

  const std::uint32_t both =
      EpollEventsFor(Interest::kReadable | Interest::kWritable);
  EXPECT_TRUE((both & EPOLLIN) && (both & EPOLLOUT) && (both & EPOLLET));
}

TEST(EpollMappingTest, KernelFlagsBecomeEventBits) {
  struct Case {
    std::uint32_t events;
    unsigned want;
    const char* why;
  };
  const Case cases[] = {
      {EPOLLIN, Event::kReadable, "EPOLLIN: data to read"},
      {EPOLLPRI, Event::kReadable, "EPOLLPRI: urgent data is data to read"},
      {EPOLLOUT, Event::kWritable, "EPOLLOUT: room to write"},
      {EPOLLIN | EPOLLRDHUP, Event::kReadable | Event::kReadClosed,
       "EPOLLRDHUP: the peer shut down its sending side, so reads will end"},
      {EPOLLHUP, Event::kReadClosed | Event::kWriteClosed,
       "EPOLLHUP: hang-up, both directions are finished"},
      {EPOLLERR, Event::kError | Event::kWriteClosed,
       "EPOLLERR: an error is pending (a pipe with no reader, a failed "
       "connection) and the next write fails"},
      {EPOLLOUT | EPOLLERR,
       Event::kWritable | Event::kError | Event::kWriteClosed,
       "a pipe's write end after its reader closed"},
  };
  for (const Case& c : cases) {
    epoll_event raw{};
    raw.events = c.events;
    raw.data.u64 = 42;
    const Event got = EventFromEpoll(raw);
    EXPECT_EQ(got.readiness(), c.want)
        << "epoll events 0x" << std::hex << c.events << std::dec << " became "
        << got << " but should be " << Event(Token{42}, c.want) << ": " << c.why
        << "." << kReadme;
    EXPECT_EQ(got.token(), Token{42})
        << "the token travels in epoll_event.data.u64";
  }
}

#elif LOOP_TEST_BACKEND_NUMBER == 2

// Checks one element of KqueueChangesFor(9, token, interest) and says in
// names what it should be: gtest alone would print the macros' numbers
// (a filter of -2, flags & 0x0002).
void ExpectChange(const struct kevent& got, Interest interest, int element,
                  int filter, unsigned flags, const char* why) {
  const bool adds = (flags & EV_ADD) != 0;
  const bool matches_the_table =
      got.ident == 9u && got.filter == filter && (got.flags & flags) == flags &&
      (adds ? (got.flags & EV_DELETE) == 0 : (got.flags & EV_ADD) == 0);
  EXPECT_TRUE(matches_the_table)
      << "KqueueChangesFor(fd 9, " << interest << ")[" << element
      << "] should be {ident 9, " << FilterName(filter) << ", "
      << KeventFlagsName(flags) << "} but is " << DescribeKevent(got) << ": "
      << why << ". Element 0 is always the EVFILT_READ change and "
      << "element 1 the EVFILT_WRITE one, each EV_ADD|EV_CLEAR "
      << "when wanted and EV_DELETE when not. (Filters are small "
      << "negative numbers: EVFILT_READ is -1, EVFILT_WRITE -2; "
      << "filter 0 means the element was never filled in with "
      << "EV_SET.)" << kReadme;
}

TEST(KqueueMappingTest, InterestBecomesOneChangePerFilter) {
  const Token token{0xfeedfacecafebeefull};
  const Interest readable = Interest::kReadable;
  const auto r = KqueueChangesFor(9, token, readable);
  ExpectChange(r[0], readable, 0, EVFILT_READ, EV_ADD | EV_CLEAR,
               "readable interest adds EVFILT_READ, edge-triggered (EV_CLEAR)");
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(r[0].udata), token.value)
      << "the token travels in udata, all 64 bits of it";
  ExpectChange(r[1], readable, 1, EVFILT_WRITE, EV_DELETE,
               "an fd registered for reading only must not keep an "
               "EVFILT_WRITE filter (think of Reregister from writable to "
               "readable): delete it");

  const Interest writable = Interest::kWritable;
  const auto w = KqueueChangesFor(9, token, writable);
  ExpectChange(w[0], writable, 0, EVFILT_READ, EV_DELETE,
               "writable only: EVFILT_READ is deleted");
  ExpectChange(w[1], writable, 1, EVFILT_WRITE, EV_ADD | EV_CLEAR,
               "writable only: EVFILT_WRITE is added, edge-triggered");

  const Interest both = Interest::kReadable | Interest::kWritable;
  const auto rw = KqueueChangesFor(9, token, both);
  ExpectChange(rw[0], both, 0, EVFILT_READ, EV_ADD | EV_CLEAR,
               "both interests: both filters are added");
  ExpectChange(rw[1], both, 1, EVFILT_WRITE, EV_ADD | EV_CLEAR,
               "both interests: both filters are added");
}

TEST(KqueueMappingTest, KernelFlagsBecomeEventBits) {
  struct Case {
    short filter;
    unsigned short flags;
    unsigned fflags;
    unsigned want;
    const char* why;
  };
  const Case cases[] = {
      {EVFILT_READ, 0, 0, Event::kReadable, "EVFILT_READ: data to read"},
      {EVFILT_WRITE, 0, 0, Event::kWritable, "EVFILT_WRITE: room to write"},
      {EVFILT_READ, EV_EOF, 0, Event::kReadable | Event::kReadClosed,
       "EV_EOF on EVFILT_READ: the writer is gone, reads will end"},
      {EVFILT_WRITE, EV_EOF, 0, Event::kWritable | Event::kWriteClosed,
       "EV_EOF on EVFILT_WRITE: the reader is gone, writes will fail"},
      {EVFILT_READ, EV_EOF, ECONNRESET,
       Event::kReadable | Event::kReadClosed | Event::kError,
       "EV_EOF with fflags: the socket's pending error rides along"},
      {EVFILT_USER, 0, 0, Event::kReadable,
       "EVFILT_USER (lesson 07's waker): something to take, like readable"},
  };
  for (const Case& c : cases) {
    struct kevent raw;
    EV_SET(&raw, 5, c.filter, c.flags, c.fflags, 0,
           reinterpret_cast<void*>(std::uintptr_t{42}));
    const Event got = EventFromKevent(raw);
    EXPECT_EQ(got.readiness(), c.want)
        << DescribeKevent(raw) << " became " << got << " but should be "
        << Event(Token{42}, c.want) << ": " << c.why << "." << kReadme;
    EXPECT_EQ(got.token(), Token{42}) << "the token travels in udata";
  }
}

#endif

// -----------------------------------------------------------------------------
// Behaviour: the same on every backend.

class PollTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IsBuilt(kBackend)) {
      GTEST_SKIP() << BackendName(kBackend)
                   << " is not built on this OS (epoll is Linux-only); "
                      "poll_kqueue_test covers this machine";
    }
    selector_ = MakeSelector(kBackend);
  }

  Selector& selector() { return *selector_; }

  // Polls once for at most `timeout` and returns the events for `token`.
  std::vector<Event> PollOnceFor(Token token, milliseconds timeout) {
    selector_->Select(events_, timeout);
    EXPECT_LE(events_.size(), events_.capacity());
    std::vector<Event> mine;
    for (const Event& e : events_) {
      if (e.token() == token) mine.push_back(e);
    }
    return mine;
  }

  // Polls until the events seen for `token`, merged into one, satisfy `done`,
  // or the deadline passes. Returns the merged event (kqueue may split one fd's
  // readiness into an event per filter), or nullopt if nothing for `token`
  // arrived.
  std::optional<Event> PollUntil(Token token,
                                 const std::function<bool(const Event&)>& done,
                                 milliseconds deadline = kDefaultDeadline) {
    const auto end = testing::Clock::now() + deadline;
    std::optional<Event> merged;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<milliseconds>(end - testing::Clock::now());
      if (left.count() <= 0) return merged;
      for (const Event& e : PollOnceFor(token, left)) {
        merged =
            Event(token, (merged ? merged->readiness() : 0) | e.readiness());
      }
      if (merged && done(*merged)) return merged;
    }
  }

  std::optional<Event> PollUntilReadable(Token token) {
    return PollUntil(token, [](const Event& e) { return e.is_readable(); });
  }

  std::unique_ptr<Selector> selector_;
  Events events_{16};
};

TEST_F(PollTest, SelectorFdIsCloseOnExec) {
  EXPECT_TRUE(testing::IsCloexec(selector().fd()))
      << "the " << BackendName(kBackend) << " fd must be close-on-exec";
  EXPECT_EQ(selector().backend(), kBackend);
}

TEST_F(PollTest, ReadableAfterWrite) {
  Pipe pipe = NonBlockingPipe();
  selector().Register(pipe.read.get(), Token{1}, Interest::kReadable);
  WriteByte(pipe.write.get());
  const auto event = PollUntilReadable(Token{1});
  ASSERT_TRUE(event.has_value())
      << "a byte was written to a pipe registered for reading with Token(1), "
         "but no event for Token(1) came within 5 s."
      << kReadme;
  EXPECT_TRUE(event->is_readable()) << *event;
  EXPECT_FALSE(event->is_read_closed())
      << *event << ": the writer is still open, nothing is closed";
}

TEST_F(PollTest, WritableOnAFreshSocket) {
  auto [a, b] = NonBlockingSocketPair();
  selector().Register(a.get(), Token{2}, Interest::kWritable);
  const auto event =
      PollUntil(Token{2}, [](const Event& e) { return e.is_writable(); });
  ASSERT_TRUE(event.has_value())
      << "a new socket has room in its send buffer, so a writable registration "
         "should be reported at once; nothing came within 5 s."
      << kReadme;
  EXPECT_TRUE(event->is_writable()) << *event;
  EXPECT_FALSE(event->is_readable())
      << *event << ": registered for writing only, and nothing was sent to it";
}

TEST_F(PollTest, EdgeTriggeredReportsOnceUntilNewData) {
  Pipe pipe = NonBlockingPipe();
  selector().Register(pipe.read.get(), Token{3}, Interest::kReadable);
  WriteByte(pipe.write.get());
  ASSERT_TRUE(PollUntilReadable(Token{3}).has_value())
      << "the first write was not reported at all." << kReadme;

  // The byte is still unread. Level-triggered would report it again and again;
  // edge-triggered stays quiet until something new arrives.
  const auto again = PollOnceFor(Token{3}, kQuiet);
  EXPECT_TRUE(again.empty())
      << "got " << DescribeEvents(again)
      << " although nothing new was written since the last report: the "
         "registration is level-triggered. Registrations must be "
         "edge-triggered (EPOLLET / EV_CLEAR)."
      << kReadme;

  WriteByte(pipe.write.get());
  EXPECT_TRUE(PollUntilReadable(Token{3}).has_value())
      << "a second write (new data) must re-arm the edge and be reported."
      << kReadme;
}

TEST_F(PollTest, BothInterestsOnOneFd) {
  auto [a, b] = NonBlockingSocketPair();
  WriteByte(b.get());
  selector().Register(a.get(), Token{4},
                      Interest::kReadable | Interest::kWritable);
  const auto event = PollUntil(Token{4}, [](const Event& e) {
    return e.is_readable() && e.is_writable();
  });
  ASSERT_TRUE(event.has_value()) << "no event at all for Token(4)." << kReadme;
  EXPECT_TRUE(event->is_readable() && event->is_writable())
      << "a socket with data waiting and room to write, registered for both, "
         "should be reported readable and writable (possibly as two events); "
         "all events for Token(4) together said "
      << *event << kReadme;
}

TEST_F(PollTest, ReregisterChangesTokenAndInterest) {
  auto [a, b] = NonBlockingSocketPair();
  selector().Register(a.get(), Token{5}, Interest::kReadable);
  // Nothing to read: quiet.
  const auto before = PollOnceFor(Token{5}, kQuiet);
  EXPECT_TRUE(before.empty())
      << "nothing was sent, yet got " << DescribeEvents(before);

  selector().Reregister(a.get(), Token{6}, Interest::kWritable);
  const auto event =
      PollUntil(Token{6}, [](const Event& e) { return e.is_writable(); });
  EXPECT_TRUE(event.has_value() && event->is_writable())
      << "after Reregister(Token(6), kWritable) the socket, which has room to "
         "write, should be reported writable with the new token."
      << kReadme;

  WriteByte(b.get());
  const auto old_token = PollOnceFor(Token{5}, kQuiet);
  EXPECT_TRUE(old_token.empty())
      << "the old token must not come back after Reregister, got "
      << DescribeEvents(old_token);
}

TEST_F(PollTest, DeregisterStopsEvents) {
  Pipe pipe = NonBlockingPipe();
  selector().Register(pipe.read.get(), Token{7}, Interest::kReadable);
  selector().Deregister(pipe.read.get());
  WriteByte(pipe.write.get());
  const auto after = PollOnceFor(Token{7}, kQuiet);
  EXPECT_TRUE(after.empty())
      << "Deregister was called, yet got " << DescribeEvents(after) << kReadme;
}

TEST_F(PollTest, ReadClosedWhenThePeerCloses) {
  {
    auto [a, b] = NonBlockingSocketPair();
    selector().Register(a.get(), Token{8}, Interest::kReadable);
    b.reset();
    const auto event =
        PollUntil(Token{8}, [](const Event& e) { return e.is_read_closed(); });
    ASSERT_TRUE(event.has_value())
        << "closing the peer socket produced no event";
    EXPECT_TRUE(event->is_read_closed())
        << "socket peer closed, got " << *event
        << ": should be read-closed (epoll: EPOLLHUP/EPOLLRDHUP, kqueue: "
           "EV_EOF on EVFILT_READ)."
        << kReadme;
  }
  {
    Pipe pipe = NonBlockingPipe();
    selector().Register(pipe.read.get(), Token{9}, Interest::kReadable);
    pipe.write.reset();
    const auto event =
        PollUntil(Token{9}, [](const Event& e) { return e.is_read_closed(); });
    ASSERT_TRUE(event.has_value())
        << "closing a pipe's writer produced no event";
    EXPECT_TRUE(event->is_read_closed())
        << "pipe writer closed, got " << *event
        << ": should be read-closed (epoll: EPOLLHUP, kqueue: EV_EOF)."
        << kReadme;
  }
}

TEST_F(PollTest, ReadClosedWhenThePeerShutsDownWriting) {
  auto [a, b] = NonBlockingSocketPair();
  selector().Register(a.get(), Token{10}, Interest::kReadable);
  ASSERT_EQ(shutdown(b.get(), SHUT_WR), 0)
      << DescribeSysError("test setup: shutdown(SHUT_WR)", errno);
  const auto event =
      PollUntil(Token{10}, [](const Event& e) { return e.is_read_closed(); });
  ASSERT_TRUE(event.has_value())
      << "the peer's shutdown(SHUT_WR) produced no event";
  EXPECT_TRUE(event->is_read_closed())
      << "the peer can still read but will send nothing more; got " << *event
      << ". epoll only says so when asked for EPOLLRDHUP." << kReadme;
}

TEST_F(PollTest, WriteClosedWhenTheReaderGoes) {
  Pipe pipe = NonBlockingPipe();
  selector().Register(pipe.write.get(), Token{11}, Interest::kWritable);
  ASSERT_TRUE(
      PollUntil(Token{11}, [](const Event& e) { return e.is_writable(); })
          .has_value())
      << "an empty pipe's write end should be writable at once." << kReadme;
  pipe.read.reset();
  const auto event =
      PollUntil(Token{11}, [](const Event& e) { return e.is_write_closed(); });
  ASSERT_TRUE(event.has_value())
      << "closing the pipe's reader produced no event";
  // Each backend reports this its own way; both must end up write-closed.
  //   epoll:  EPOLLERR (plus EPOLLOUT): error and write-closed.
  //   kqueue: EV_EOF on EVFILT_WRITE: write-closed, no error.
  EXPECT_TRUE(event->is_write_closed())
      << "the reader is gone, so writes fail with EPIPE; got " << *event << "."
      << kReadme;
  if (kBackend == Backend::kEpoll) {
    EXPECT_TRUE(event->is_error())
        << "epoll reports a readerless pipe as EPOLLERR; got " << *event;
  }
}

TEST_F(PollTest, TokensRoundTripAllSixtyFourBits) {
  const std::vector<std::uint64_t> values = {
      0, 1, (std::uint64_t{1} << 32) + 5,
      std::numeric_limits<std::uint64_t>::max()};
  std::vector<Pipe> pipes;
  for (std::uint64_t v : values) {
    pipes.push_back(NonBlockingPipe());
    selector().Register(pipes.back().read.get(), Token{v}, Interest::kReadable);
    WriteByte(pipes.back().write.get());
  }
  // All four are ready at once and may come back in one Select, in any order.
  std::vector<bool> seen(values.size(), false);
  const auto end = testing::Clock::now() + kDefaultDeadline;
  while (std::count(seen.begin(), seen.end(), true) <
             static_cast<long>(values.size()) &&
         testing::Clock::now() < end) {
    selector_->Select(events_, milliseconds(100));
    for (const Event& e : events_) {
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (e.token() == Token{values[i]}) seen[i] = true;
      }
    }
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_TRUE(seen[i])
        << "no event came back with Token(" << values[i]
        << "): the token must travel through the kernel unchanged, all 64 bits "
           "(epoll: data.u64, kqueue: udata)."
        << kReadme;
  }
}

TEST_F(PollTest, ZeroTimeoutReturnsAtOnce) {
  Pipe pipe = NonBlockingPipe();
  Pipe rescue = NonBlockingPipe();
  selector().Register(pipe.read.get(), Token{12}, Interest::kReadable);
  selector().Register(rescue.read.get(), Token{13}, Interest::kReadable);
  bool rescued = false;
  const bool in_time = testing::FinishesWithin(
      milliseconds(2000), [&] { selector_->Select(events_, milliseconds(0)); },
      [&] {
        rescued = true;
        WriteByte(rescue.write.get());
      });
  EXPECT_TRUE(in_time && !rescued) << "Select(events, 0ms) with nothing ready "
                                      "blocked for 2 s; a zero timeout "
                                      "means: look and return."
                                   << kReadme;
  if (in_time) {
    EXPECT_TRUE(events_.empty())
        << "nothing was ready, yet got " << events_.size() << " events";
  }
}

TEST_F(PollTest, FiniteTimeoutWaitsAtLeastThatLong) {
  Pipe pipe = NonBlockingPipe();
  selector().Register(pipe.read.get(), Token{14}, Interest::kReadable);
  const milliseconds timeout(50);
  const auto start = testing::Clock::now();
  selector_->Select(events_, timeout);
  const auto elapsed = testing::Clock::now() - start;
  EXPECT_TRUE(events_.empty())
      << "nothing was ready, yet got " << events_.size() << " events";
  EXPECT_GE(elapsed, timeout)
      << "Select(events, 50ms) returned after "
      << std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()
      << " us with nothing ready; it should wait the whole timeout." << kReadme;
}

TEST_F(PollTest, NoTimeoutWaitsForAnEventFromAnotherThread) {
  Pipe pipe = NonBlockingPipe();
  Pipe rescue = NonBlockingPipe();
  selector().Register(pipe.read.get(), Token{15}, Interest::kReadable);
  selector().Register(rescue.read.get(), Token{16}, Interest::kReadable);

  testing::Latch about_to_wait(1);
  std::thread writer([&] {
    // Write only once the poller is (about to be) blocked, so the event has to
    // arrive while it waits.
    if (about_to_wait.Wait()) WriteByte(pipe.write.get());
  });
  bool rescued = false;
  const bool in_time = testing::FinishesWithin(
      kDefaultDeadline,
      [&] {
        about_to_wait.CountDown();
        selector_->Select(events_, std::nullopt);
      },
      [&] {
        rescued = true;
        WriteByte(rescue.write.get());
      });
  writer.join();
  EXPECT_TRUE(in_time) << "Select(events, nullopt) was still blocked 5 s after "
                          "another thread wrote to a registered pipe: the "
                          "wake-up was lost."
                       << kReadme;
  bool saw_it = false;
  for (const Event& e : events_) saw_it = saw_it || e.token() == Token{15};
  if (!saw_it && !rescued) {
    // Returned early, maybe before the write: nullopt must mean "no limit".
    ADD_FAILURE()
        << "Select(events, nullopt) returned "
        << DescribeEvents(std::vector<Event>(events_.begin(), events_.end()))
        << " without the event for Token(15): with no timeout it must "
           "block until an event arrives."
        << kReadme;
  }
}

TEST_F(PollTest, MoreReadyThanCapacityArriveOnTheNextPoll) {
  constexpr int kSources = 5;
  std::vector<Pipe> pipes;
  for (int i = 0; i < kSources; ++i) {
    pipes.push_back(NonBlockingPipe());
    selector().Register(pipes.back().read.get(), Token{100u + i},
                        Interest::kReadable);
    WriteByte(pipes.back().write.get());
  }
  Events small(2);
  std::vector<bool> seen(kSources, false);
  int polls = 0;
  const auto end = testing::Clock::now() + kDefaultDeadline;
  while (std::count(seen.begin(), seen.end(), true) < kSources &&
         testing::Clock::now() < end) {
    selector_->Select(small, milliseconds(100));
    ++polls;
    ASSERT_LE(small.size(), small.capacity())
        << "Select filled more events than the buffer holds." << kReadme;
    for (const Event& e : small) {
      if (e.token().value >= 100 && e.token().value < 100u + kSources) {
        seen[e.token().value - 100] = true;
      }
    }
  }
  for (int i = 0; i < kSources; ++i) {
    EXPECT_TRUE(seen[i]) << "Token(" << 100 + i << ") never came, after "
                         << polls
                         << " polls with capacity 2: the ready sources that do "
                            "not fit must be reported by a later Select."
                         << kReadme;
  }
}

TEST_F(PollTest, ErrorsNameTheErrno) {
  Pipe pipe = NonBlockingPipe();
  const int closed_fd = pipe.read.get();
  pipe.read.reset();
  if (auto error = SysErrorFrom(
          [&] {
            selector().Register(closed_fd, Token{17}, Interest::kReadable);
          },
          "Register of a closed fd should throw SysError(EBADF)")) {
    EXPECT_EQ(error->err, EBADF) << error->what;
    EXPECT_NE(error->what.find("EBADF"), std::string::npos)
        << "the message should name the errno: " << error->what;
  }
}

// Native behaviour, documented: lesson 05's Registry makes both backends agree.
TEST_F(PollTest, RegisteringTwiceIsEachBackendsOwnBusiness) {
  Pipe pipe = NonBlockingPipe();
  selector().Register(pipe.read.get(), Token{18}, Interest::kReadable);
  if (kBackend == Backend::kEpoll) {
    if (auto error = SysErrorFrom(
            [&] {
              selector().Register(pipe.read.get(), Token{19},
                                  Interest::kReadable);
            },
            "epoll refuses a second EPOLL_CTL_ADD of the same fd with "
            "EEXIST; the selector should pass that on")) {
      EXPECT_EQ(error->err, EEXIST) << error->what;
      EXPECT_NE(error->what.find("EEXIST"), std::string::npos) << error->what;
    }
  } else {
    // kqueue: EV_ADD of an existing (ident, filter) updates it in place.
    EXPECT_NO_THROW(
        selector().Register(pipe.read.get(), Token{19}, Interest::kReadable))
        << "kqueue's EV_ADD on an existing filter modifies it; no error";
    WriteByte(pipe.write.get());
    EXPECT_TRUE(PollUntilReadable(Token{19}).has_value())
        << "after the second Register, events carry the new token";
  }
}

}  // namespace
}  // namespace loop
