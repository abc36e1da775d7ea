// Lesson 05: the Registry, and the Poll that owns it.
//
// This file is compiled twice (see BUILD.bazel): registry_epoll_test with
// LOOP_TEST_BACKEND=kEpoll and registry_kqueue_test with
// LOOP_TEST_BACKEND=kKqueue. Every test is the same on both backends, because
// that is what a Registry is for; the one exception is the dup pitfall, where
// each backend's kernel does its own thing and the test says which.
//
// Events are hints and the contract allows extra ones, so these tests look for
// the event they expect and never count events exactly. To show that something
// is *not* reported, a test makes a second "control" source ready at the same
// time and waits for the control's event: both readinesses were recorded by the
// kernel before the wait began, so one Wait returns both or neither. Every wait
// has a deadline.
#include "loop/registry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "loop/event.h"
#include "loop/fd.h"
#include "loop/poll.h"
#include "loop/selector.h"
#include "loop/sys_error.h"
#include "tests/support/deadline.h"
#include "tests/support/errors.h"
#include "tests/support/events.h"
#include "tests/support/fds.h"
#include "tests/support/pipes.h"
#include "tests/support/threads.h"

#ifndef LOOP_TEST_BACKEND
#error "Build with LOOP_TEST_BACKEND=kEpoll or kKqueue (see BUILD.bazel)."
#endif

namespace loop {
namespace {

using std::chrono::milliseconds;
using testing::CaughtSysError;
using testing::DescribeEvents;
using testing::HasToken;
using testing::kDefaultDeadline;
using testing::NonBlockingPipe;
using testing::NonBlockingSocketPair;
using testing::SysErrorFrom;

constexpr Backend kBackend = Backend::LOOP_TEST_BACKEND;
constexpr char kReadme[] = " See lessons/05_registry/README.md.";

bool IsBuilt(Backend backend) {
  const std::vector<Backend> built = AvailableBackends();
  return std::find(built.begin(), built.end(), backend) != built.end();
}

// -----------------------------------------------------------------------------
// Sources and small helpers. Test setup failures throw SysError, which gtest
// reports with the errno name.

void WriteByte(int fd) {
  const char byte = 'x';
  CheckSys(write(fd, &byte, 1),
           "test setup: write(fd " + std::to_string(fd) + ")");
}

void SetCloexec(int fd) {
  CheckSys(fcntl(fd, F_SETFD, FD_CLOEXEC),
           "test setup: fcntl(fd " + std::to_string(fd) + ", F_SETFD)");
}

// A non-blocking TCP listener on 127.0.0.1 with a port the kernel picks.
Fd ListenOnLoopback(std::uint16_t* port) {
  Fd listener(CheckSys(socket(AF_INET, SOCK_STREAM, 0),
                       "test setup: socket(AF_INET, SOCK_STREAM)"));
  SetCloexec(listener.get());
  SetNonBlocking(listener.get());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = 0;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CheckSys(bind(listener.get(), reinterpret_cast<sockaddr*>(&address),
                sizeof address),
           "test setup: bind(127.0.0.1:0)");
  CheckSys(listen(listener.get(), 16), "test setup: listen");
  socklen_t length = sizeof address;
  CheckSys(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address),
                       &length),
           "test setup: getsockname");
  *port = ntohs(address.sin_port);
  return listener;
}

// A blocking connect to 127.0.0.1:port. On loopback it returns once the
// handshake is done, so the connection is then waiting in the listener's accept
// queue.
Fd ConnectToLoopback(std::uint16_t port) {
  Fd client(CheckSys(socket(AF_INET, SOCK_STREAM, 0),
                     "test setup: socket(AF_INET, SOCK_STREAM)"));
  SetCloexec(client.get());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CheckSys(connect(client.get(), reinterpret_cast<sockaddr*>(&address),
                   sizeof address),
           "test setup: connect(127.0.0.1:" + std::to_string(port) + ")");
  return client;
}

// A free fd number: opened, then closed. Valid as long as this
// (single-threaded) test opens nothing else before using it.
int ClosedFdNumber() {
  Pipe pipe = MakePipe();
  return pipe.read.get();  // Both ends close here.
}

// A new pipe end with the (free) fd number `fd`, the way the kernel reuses the
// numbers of closed fds for the next open.
Fd ReopenAs(int fd) {
  Pipe pipe = MakePipe(O_NONBLOCK);
  if (pipe.read.get() == fd) return std::move(pipe.read);
  if (pipe.write.get() == fd) return std::move(pipe.write);
  // F_DUPFD_CLOEXEC picks the lowest free number >= fd, which is fd itself.
  Fd reopened(CheckSys(fcntl(pipe.read.get(), F_DUPFD_CLOEXEC, fd),
                       "test setup: fcntl(F_DUPFD_CLOEXEC)"));
  if (reopened.get() != fd) {
    throw std::runtime_error("test setup: fd " + std::to_string(fd) +
                             " was not free to reopen");
  }
  return reopened;
}

// The readiness bits of every event for `token`, ORed (kqueue reports reading
// and writing of one fd as two events).
unsigned ReadinessOf(const std::vector<Event>& events, Token token) {
  unsigned bits = 0;
  for (const Event& e : events) {
    if (e.token() == token) bits |= e.readiness();
  }
  return bits;
}

// Calls Wait until `done(every event seen so far)` or the deadline passes.
// Returns every event seen.
std::vector<Event> WaitUntilSeen(
    Poll& poll, const std::function<bool(const std::vector<Event>&)>& done,
    milliseconds deadline = kDefaultDeadline) {
  Events events(64);
  std::vector<Event> seen;
  const auto end = testing::Clock::now() + deadline;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(end - testing::Clock::now());
    if (left.count() <= 0) return seen;
    poll.Wait(events, left);
    seen.insert(seen.end(), events.begin(), events.end());
    if (done(seen)) return seen;
  }
}

// Calls Wait until an event for `token` with all of `want` arrives, or the
// deadline passes. Returns every event seen.
std::vector<Event> WaitFor(Poll& poll, Token token,
                           unsigned want = Event::kReadable) {
  return WaitUntilSeen(poll, [&](const std::vector<Event>& seen) {
    return HasToken(seen, token) && (ReadinessOf(seen, token) & want) == want;
  });
}

// The SysError that `call` (run by fn) throws; fails the test, at the line
// that called ErrorFrom, if it throws nothing.
std::optional<CaughtSysError> ErrorFrom(const std::function<void()>& fn,
                                        const std::string& call,
                                        const char* file = __builtin_FILE(),
                                        int line = __builtin_LINE()) {
  const std::string if_none =
      call + " returned normally; it should have thrown SysError." + kReadme;
  return SysErrorFrom(fn, if_none, file, line);
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The checks every Registry error must pass: the errno value, its name in the
// message, and what was being done (method and fd).
void ExpectRegistryError(const std::optional<CaughtSysError>& error, int err,
                         const std::string& method, int fd,
                         const std::string& why) {
  if (!error) return;
  const std::string& what = error->what;
  EXPECT_EQ(error->err, err)
      << "expected " << ErrnoName(err) << " because " << why << "; got "
      << ErrnoName(error->err) << ": " << what << "." << kReadme;
  EXPECT_TRUE(Contains(what, ErrnoName(err)))
      << "the message should name the errno (" << ErrnoName(err)
      << "), so nobody has to look up a number: " << what;
  EXPECT_TRUE(Contains(what, "Registry::" + method))
      << "the message should say what was being done (Registry::" << method
      << "): " << what << "." << kReadme;
  EXPECT_TRUE(Contains(what, "fd " + std::to_string(fd)))
      << "the message should name the fd (\"fd " << fd << "\"): " << what;
}

class BackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IsBuilt(kBackend)) {
      GTEST_SKIP() << BackendName(kBackend)
                   << " is not built on this OS (epoll is Linux-only); "
                      "registry_kqueue_test covers this machine";
    }
    poll_ = std::make_unique<Poll>(kBackend);
  }

  Registry& registry() { return poll_->registry(); }

  std::unique_ptr<Poll> poll_;
};

// -----------------------------------------------------------------------------
// The same errors on every backend. epoll would say EEXIST and ENOENT by
// itself, but kqueue silently updates, adds or ignores: the Registry's own
// table makes them agree.

using RegistryErrorsTest = BackendTest;

TEST_F(RegistryErrorsTest, RegisterTwiceIsEexistAndKeepsTheFirstRegistration) {
  Pipe pipe = NonBlockingPipe();
  const int fd = pipe.read.get();
  registry().Register(fd, Token{1}, Interest::kReadable);
  ExpectRegistryError(
      ErrorFrom([&] { registry().Register(fd, Token{2}, Interest::kReadable); },
                "Register of an fd that is already registered"),
      EEXIST, "Register", fd, "the fd is already registered");

  WriteByte(pipe.write.get());
  const std::vector<Event> seen =
      WaitUntilSeen(*poll_, [](const std::vector<Event>& seen) {
        return HasToken(seen, Token{1}) || HasToken(seen, Token{2});
      });
  EXPECT_TRUE(HasToken(seen, Token{1}) && !HasToken(seen, Token{2}))
      << "a second Register of the fd must throw EEXIST and change nothing, so "
         "events should still carry the first token (1); Wait returned "
      << DescribeEvents(seen)
      << ". (kqueue's EV_ADD would have replaced the token: that is why the "
         "Registry checks its own table before calling the selector.)"
      << kReadme;
}

TEST_F(RegistryErrorsTest, ReregisterOfAnUnregisteredFdIsEnoent) {
  Pipe pipe = NonBlockingPipe();
  Pipe control = NonBlockingPipe();
  registry().Register(control.read.get(), Token{9}, Interest::kReadable);
  const int fd = pipe.read.get();
  ExpectRegistryError(
      ErrorFrom(
          [&] { registry().Reregister(fd, Token{3}, Interest::kReadable); },
          "Reregister of an fd that was never registered"),
      ENOENT, "Reregister", fd, "the fd was never registered");

  WriteByte(pipe.write.get());
  WriteByte(control.write.get());
  const std::vector<Event> seen = WaitFor(*poll_, Token{9});
  ASSERT_TRUE(HasToken(seen, Token{9}))
      << "the control pipe (token 9) was readable but never reported: "
      << DescribeEvents(seen) << kReadme;
  EXPECT_FALSE(HasToken(seen, Token{3}))
      << "the refused Reregister registered the fd anyway (token 3 reported: "
      << DescribeEvents(seen)
      << "). kqueue's EV_ADD adds a filter that does not exist yet; the "
         "Registry must refuse before the selector sees the call."
      << kReadme;
}

TEST_F(RegistryErrorsTest, DeregisterOfAnUnregisteredFdIsEnoent) {
  Pipe pipe = NonBlockingPipe();
  const int fd = pipe.read.get();
  ExpectRegistryError(
      ErrorFrom([&] { registry().Deregister(fd); },
                "Deregister of an fd that was never registered"),
      ENOENT, "Deregister", fd,
      "the fd was never registered (kqueue would not complain)");
}

TEST_F(RegistryErrorsTest, DeregisterTwiceIsEnoent) {
  Pipe pipe = NonBlockingPipe();
  const int fd = pipe.read.get();
  registry().Register(fd, Token{4}, Interest::kReadable);
  registry().Deregister(fd);
  ExpectRegistryError(ErrorFrom([&] { registry().Deregister(fd); },
                                "a second Deregister of the same fd"),
                      ENOENT, "Deregister", fd,
                      "the first Deregister removed the registration");
}

TEST_F(RegistryErrorsTest, AClosedFdIsEbadfForEveryMethod) {
  const int fd = ClosedFdNumber();
  ExpectRegistryError(
      ErrorFrom([&] { registry().Register(fd, Token{5}, Interest::kReadable); },
                "Register of a closed fd"),
      EBADF, "Register", fd, "the fd is not open");
  ExpectRegistryError(
      ErrorFrom(
          [&] { registry().Reregister(fd, Token{5}, Interest::kReadable); },
          "Reregister of a closed fd"),
      EBADF, "Reregister", fd,
      "the fd is not open (check that before the table: a closed fd is EBADF "
      "whether or not it was ever registered)");
  ExpectRegistryError(ErrorFrom([&] { registry().Deregister(fd); },
                                "Deregister of a closed fd"),
                      EBADF, "Deregister", fd,
                      "the fd is not open (check that before the table)");
}

TEST_F(RegistryErrorsTest, ANegativeFdIsEbadf) {
  ExpectRegistryError(
      ErrorFrom([&] { registry().Register(-1, Token{6}, Interest::kReadable); },
                "Register(-1)"),
      EBADF, "Register", -1, "-1 is never an open fd");
  ExpectRegistryError(
      ErrorFrom([&] { registry().Deregister(-1); }, "Deregister(-1)"), EBADF,
      "Deregister", -1, "-1 is never an open fd");
}

TEST_F(RegistryErrorsTest, AFailedRegisterOfAClosedFdLeavesNothingBehind) {
  const int fd = ClosedFdNumber();
  EXPECT_THROW(registry().Register(fd, Token{7}, Interest::kReadable),
               SysError);
  Fd reopened = ReopenAs(fd);
  EXPECT_NO_THROW(registry().Register(fd, Token{8}, Interest::kReadable))
      << "Register of a new, open fd " << fd
      << " failed: the earlier, refused Register of the closed fd with the "
         "same number must not have been put in the table."
      << kReadme;
}

// -----------------------------------------------------------------------------
// Sources: pipes, socketpairs, a TCP listener.

using RegistryTest = BackendTest;

TEST_F(RegistryTest, BackendAndSelectorFd) {
  EXPECT_EQ(poll_->backend(), kBackend);
  EXPECT_EQ(registry().backend(), kBackend);
  EXPECT_TRUE(testing::IsCloexec(registry().selector_fd()))
      << "selector_fd() should be the Poll's open, close-on-exec "
      << BackendName(kBackend) << " fd";
}

TEST_F(RegistryTest, APipeIsReportedWithItsToken) {
  Pipe pipe = NonBlockingPipe();
  registry().Register(pipe.read.get(), Token{10}, Interest::kReadable);
  WriteByte(pipe.write.get());
  const std::vector<Event> seen = WaitFor(*poll_, Token{10});
  EXPECT_TRUE(ReadinessOf(seen, Token{10}) & Event::kReadable)
      << "a registered pipe with a byte in it should be reported readable with "
         "token 10; Wait returned "
      << DescribeEvents(seen) << "." << kReadme;
}

TEST_F(RegistryTest, ASocketPairIsReportedBothWays) {
  auto sockets = NonBlockingSocketPair();
  Fd& a = sockets.first;
  Fd& b = sockets.second;
  registry().Register(a.get(), Token{11},
                      Interest::kReadable | Interest::kWritable);
  std::vector<Event> seen = WaitFor(*poll_, Token{11}, Event::kWritable);
  EXPECT_TRUE(ReadinessOf(seen, Token{11}) & Event::kWritable)
      << "a fresh socket has room to write, so it should be reported writable; "
         "Wait returned "
      << DescribeEvents(seen) << "." << kReadme;
  WriteByte(b.get());
  seen = WaitFor(*poll_, Token{11}, Event::kReadable);
  EXPECT_TRUE(ReadinessOf(seen, Token{11}) & Event::kReadable)
      << "after the peer wrote a byte, the socket should be reported readable; "
         "Wait returned "
      << DescribeEvents(seen) << "." << kReadme;
}

TEST_F(RegistryTest, ReregisterChangesTokenAndInterest) {
  auto sockets = NonBlockingSocketPair();
  Fd& a = sockets.first;
  registry().Register(a.get(), Token{12}, Interest::kReadable);
  registry().Reregister(a.get(), Token{13}, Interest::kWritable);
  const std::vector<Event> seen = WaitFor(*poll_, Token{13}, Event::kWritable);
  EXPECT_TRUE(ReadinessOf(seen, Token{13}) & Event::kWritable)
      << "after Reregister(token 13, WRITABLE) the writable socket should be "
         "reported with token 13; Wait returned "
      << DescribeEvents(seen) << "." << kReadme;
  EXPECT_FALSE(HasToken(seen, Token{12}))
      << "token 12 was replaced by Reregister and should not be reported: "
      << DescribeEvents(seen);
}

TEST_F(RegistryTest, DeregisterThenRegisterAgainWorks) {
  Pipe pipe = NonBlockingPipe();
  Pipe control = NonBlockingPipe();
  registry().Register(control.read.get(), Token{19}, Interest::kReadable);
  const int fd = pipe.read.get();
  registry().Register(fd, Token{14}, Interest::kReadable);
  registry().Deregister(fd);

  WriteByte(pipe.write.get());
  WriteByte(control.write.get());
  std::vector<Event> seen = WaitFor(*poll_, Token{19});
  ASSERT_TRUE(HasToken(seen, Token{19}))
      << "the control pipe (token 19) was readable but never reported: "
      << DescribeEvents(seen);
  EXPECT_FALSE(HasToken(seen, Token{14}))
      << "fd " << fd << " was deregistered, yet its token 14 was reported: "
      << DescribeEvents(seen)
      << ". Deregister must remove the kernel's registration too." << kReadme;

  EXPECT_NO_THROW(registry().Register(fd, Token{15}, Interest::kReadable))
      << "after Deregister the fd should be registrable again: Deregister must "
         "remove it from the Registry's table."
      << kReadme;
  // The byte written above is still unread: registering reports it.
  seen = WaitFor(*poll_, Token{15});
  EXPECT_TRUE(HasToken(seen, Token{15}))
      << "after registering again with token 15 the pipe, which holds unread "
         "data, should be reported; Wait returned "
      << DescribeEvents(seen) << "." << kReadme;
}

TEST_F(RegistryTest, ATcpListenerIsReadableWhenAClientConnects) {
  std::uint16_t port = 0;
  Fd listener = ListenOnLoopback(&port);
  registry().Register(listener.get(), Token{16}, Interest::kReadable);

  Events events(16);
  poll_->Wait(events, milliseconds(0));
  for (const Event& e : events) {
    EXPECT_NE(e.token(), Token{16})
        << "no client has connected yet, so the listener should not be ready";
  }

  Fd client = ConnectToLoopback(port);
  std::vector<Event> seen = WaitFor(*poll_, Token{16});
  ASSERT_TRUE(ReadinessOf(seen, Token{16}) & Event::kReadable)
      << "a listening socket is readable when a connection waits to be "
         "accepted; after a client connected to 127.0.0.1:"
      << port << ", Wait returned " << DescribeEvents(seen) << "." << kReadme;

  Fd accepted(accept(listener.get(), nullptr, nullptr));
  ASSERT_TRUE(accepted.valid())
      << DescribeSysError("accept after a readable event", errno);
  SetCloexec(accepted.get());
  SetNonBlocking(accepted.get());
  const Fd second(accept(listener.get(), nullptr, nullptr));
  const int err = errno;
  EXPECT_FALSE(second.valid()) << "only one client connected";
  EXPECT_TRUE(!second.valid() && (err == EAGAIN || err == EWOULDBLOCK))
      << "with the accept queue drained, a non-blocking accept says EAGAIN; "
         "got "
      << ErrnoName(err);

  // The accepted connection is a source of its own.
  registry().Register(accepted.get(), Token{17}, Interest::kReadable);
  WriteByte(client.get());
  seen = WaitFor(*poll_, Token{17});
  EXPECT_TRUE(ReadinessOf(seen, Token{17}) & Event::kReadable)
      << "the accepted connection should be readable after the client wrote; "
         "Wait returned "
      << DescribeEvents(seen) << "." << kReadme;
}

// -----------------------------------------------------------------------------
// Poll::Wait: the timeout is passed on.

using PollWaitTest = BackendTest;

TEST_F(PollWaitTest, ZeroTimeoutReturnsAtOnceWithNothingReady) {
  Pipe pipe = NonBlockingPipe();
  Pipe rescue = NonBlockingPipe();
  registry().Register(pipe.read.get(), Token{20}, Interest::kReadable);
  registry().Register(rescue.read.get(), Token{21}, Interest::kReadable);
  Events events(16);
  events.push_back(Event(Token{99}, Event::kReadable));  // Left over.
  bool rescued = false;
  const bool in_time = testing::FinishesWithin(
      milliseconds(2000), [&] { poll_->Wait(events, milliseconds(0)); },
      [&] {
        rescued = true;
        WriteByte(rescue.write.get());
      });
  EXPECT_TRUE(in_time && !rescued)
      << "Wait(events, 0ms) with nothing ready blocked for 2 s: a zero timeout "
         "means look and return. Pass the timeout on to the selector."
      << kReadme;
  if (in_time) {
    EXPECT_TRUE(events.empty())
        << "nothing was ready, so Wait should leave `events` empty (it clears "
           "what the last Wait left); got "
        << events.size() << " events";
  }
}

TEST_F(PollWaitTest, FiniteTimeoutWaitsAtLeastThatLong) {
  Pipe pipe = NonBlockingPipe();
  registry().Register(pipe.read.get(), Token{22}, Interest::kReadable);
  Events events(16);
  const milliseconds timeout(50);
  const auto start = testing::Clock::now();
  poll_->Wait(events, timeout);
  const auto elapsed = testing::Clock::now() - start;
  EXPECT_TRUE(events.empty())
      << "nothing was ready, yet got " << events.size() << " events";
  EXPECT_GE(elapsed, timeout)
      << "Wait(events, 50ms) returned after "
      << std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()
      << " us with nothing ready; it should wait the whole timeout." << kReadme;
}

// -----------------------------------------------------------------------------
// Threads: any thread registers, one thread waits.

// Runs `poll_->Wait(events, nullopt)` on one thread and `change` on another
// once the first is blocked, bounded by the deadline; the rescue pipe
// (registered here first) ends a Wait that missed the change. Returns whether
// Wait returned without rescue.
class RegistryThreadsTest : public BackendTest {
 protected:
  bool WaitWhileAnotherThread(const std::function<void()>& change,
                              Events& events) {
    rescue_ = NonBlockingPipe();
    registry().Register(rescue_.read.get(), kRescue, Interest::kReadable);

    testing::Latch about_to_wait(1);
    std::atomic<long> waiter_tid{0};
    std::exception_ptr change_error;
    std::thread changer([&] {
      if (!about_to_wait.Wait()) return;
      // Best effort, not synchronization: give the waiter the chance to be
      // truly asleep in the kernel before the change. The test is correct
      // either way; a change made just before Wait must be reported too.
      testing::WaitUntilBlockedInKernel(waiter_tid);
      try {
        change();
      } catch (...) {
        change_error = std::current_exception();
      }
    });
    // Join the changer whatever happens below (a TODO thrown by Wait included).
    struct Joiner {
      std::thread& thread;
      ~Joiner() {
        if (thread.joinable()) thread.join();
      }
    } joiner{changer};

    bool rescued = false;
    const bool in_time = testing::FinishesWithin(
        kDefaultDeadline,
        [&] {
          waiter_tid = testing::CurrentThreadId();
          about_to_wait.CountDown();
          poll_->Wait(events, std::nullopt);
        },
        [&] {
          rescued = true;
          WriteByte(rescue_.write.get());
        });
    changer.join();
    if (change_error) std::rethrow_exception(change_error);
    return in_time && !rescued;
  }

  static constexpr Token kRescue{999};
  Pipe rescue_;
};

TEST_F(RegistryThreadsTest, RegisterWakesAWaitBlockedInAnotherThread) {
  Pipe pipe = NonBlockingPipe();
  WriteByte(pipe.write.get());  // Ready before it is even registered.
  Events events(16);
  const bool in_time = WaitWhileAnotherThread(
      [&] {
        registry().Register(pipe.read.get(), Token{30}, Interest::kReadable);
      },
      events);
  const std::vector<Event> seen(events.begin(), events.end());
  EXPECT_TRUE(in_time && HasToken(seen, Token{30}))
      << "a thread blocked in Wait(events, nullopt) should return when another "
         "thread registers a ready pipe (token 30); it returned "
      << (in_time ? "" : "only when rescued after 5 s ") << "with "
      << DescribeEvents(seen)
      << ". Registry calls must not wait for the poller (do not hold a lock "
         "the Wait holds), and the kernel reports a registration made during a "
         "wait."
      << kReadme;
}

TEST_F(RegistryThreadsTest, ReregisterWakesAWaitBlockedInAnotherThread) {
  auto sockets = NonBlockingSocketPair();
  Fd& a = sockets.first;
  registry().Register(a.get(), Token{31},
                      Interest::kReadable);  // Nothing to read.
  Events events(16);
  const bool in_time = WaitWhileAnotherThread(
      [&] {
        registry().Reregister(a.get(), Token{32},
                              Interest::kReadable | Interest::kWritable);
      },
      events);
  const std::vector<Event> seen(events.begin(), events.end());
  EXPECT_TRUE(in_time && (ReadinessOf(seen, Token{32}) & Event::kWritable))
      << "a thread blocked in Wait should return when another thread "
         "reregisters a writable socket for WRITABLE (token 32); it returned "
      << (in_time ? "" : "only when rescued after 5 s ") << "with "
      << DescribeEvents(seen) << "." << kReadme;
}

TEST_F(RegistryThreadsTest, TwoThreadsRegisteringOneFdExactlyOneWins) {
  constexpr int kRounds = 100;
  for (int round = 0; round < kRounds; ++round) {
    Pipe pipe = NonBlockingPipe();
    const int fd = pipe.read.get();
    testing::Latch start(2);
    std::atomic<int> won{0}, eexist{0};
    std::exception_ptr errors[2];
    auto contender = [&](int i) {
      try {
        start.ArriveAndWait();
        registry().Register(fd, Token{40u + i}, Interest::kReadable);
        ++won;
      } catch (const SysError& e) {
        if (e.err() == EEXIST) {
          ++eexist;
        } else {
          errors[i] = std::current_exception();
        }
      } catch (...) {
        errors[i] = std::current_exception();
      }
    };
    std::thread first(contender, 0), second(contender, 1);
    first.join();
    second.join();
    for (const auto& error : errors) {
      if (error) std::rethrow_exception(error);
    }
    ASSERT_TRUE(won == 1 && eexist == 1)
        << "round " << round << ": two threads registered fd " << fd
        << " at once; exactly one should succeed and the other get EEXIST, but "
        << won << " succeeded and " << eexist
        << " got EEXIST. Checking the table and registering must happen under "
           "one lock, or both threads can pass the check."
        << kReadme;
    registry().Deregister(fd);
  }
}

TEST_F(RegistryThreadsTest, ManyThreadsRegisterAndDeregisterTheirOwnFds) {
  constexpr int kThreads = 4;
  constexpr int kCycles = 200;
  const int fds_before = testing::CountOpenFds();
  std::vector<std::exception_ptr> errors(kThreads);
  std::vector<std::thread> threads;
  testing::Latch start(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        start.ArriveAndWait();
        for (int i = 0; i < kCycles; ++i) {
          Pipe pipe = NonBlockingPipe();
          const Token token{static_cast<std::uint64_t>(t * kCycles + i)};
          registry().Register(pipe.read.get(), token, Interest::kReadable);
          registry().Reregister(pipe.read.get(), token, Interest::kWritable);
          registry().Deregister(pipe.read.get());
        }
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  EXPECT_EQ(testing::CountOpenFds(), fds_before)
      << "fds leaked while " << kThreads << " threads registered and "
      << "deregistered pipes" << kReadme;
}

// -----------------------------------------------------------------------------
// try_clone by dup, and its pitfall. A dup is a second fd number for the same
// open file description. epoll registers the description (with the fd number as
// part of the key); kqueue registers the fd number.

using DupPitfallTest = BackendTest;

TEST_F(DupPitfallTest, CloseWithoutDeregisterWhileADupLives) {
  Pipe pipe = NonBlockingPipe();
  Pipe control = NonBlockingPipe();
  registry().Register(control.read.get(), Token{52}, Interest::kReadable);
  const int fd = pipe.read.get();
  registry().Register(fd, Token{50}, Interest::kReadable);
  Fd clone = pipe.read.Duplicate();  // mio calls this try_clone().
  pipe.read.reset();                 // The mistake: closed while registered.

  WriteByte(pipe.write.get());
  WriteByte(control.write.get());
  const std::vector<Event> seen = WaitFor(*poll_, Token{52});
  ASSERT_TRUE(HasToken(seen, Token{52}))
      << "the control pipe (token 52) was readable but never reported: "
      << DescribeEvents(seen);
#if defined(__linux__)
  // epoll, and the kqueue emulation built on it (which cannot see a close()).
  EXPECT_TRUE(HasToken(seen, Token{50}))
      << "epoll keeps a registration while its open file description lives: fd "
      << fd << " was closed, but its dup (fd " << clone.get()
      << ") keeps the pipe open, so token 50 should still be reported. Got "
      << DescribeEvents(seen) << "." << kReadme;
#else
  // A real kqueue (macOS, BSD): close() removes every filter of that number.
  EXPECT_FALSE(HasToken(seen, Token{50}))
      << "a real kqueue drops an fd's filters when that fd number is closed, "
         "dup or no dup, so token 50 should be gone. Got "
      << DescribeEvents(seen) << "." << kReadme;
#endif

  // Neither number can remove the registration now: one is closed, the other
  // was never registered.
  ExpectRegistryError(ErrorFrom([&] { registry().Deregister(fd); },
                                "Deregister of the closed original"),
                      EBADF, "Deregister", fd, "fd was closed");
  ExpectRegistryError(ErrorFrom([&] { registry().Deregister(clone.get()); },
                                "Deregister of the dup"),
                      ENOENT, "Deregister", clone.get(),
                      "the dup was never registered");
}

TEST_F(DupPitfallTest, DeregisterThenCloseStopsEventsOnEveryBackend) {
  Pipe pipe = NonBlockingPipe();
  Pipe control = NonBlockingPipe();
  registry().Register(control.read.get(), Token{55}, Interest::kReadable);
  registry().Register(pipe.read.get(), Token{53}, Interest::kReadable);
  Fd clone = pipe.read.Duplicate();
  registry().Deregister(pipe.read.get());  // The right order: deregister...
  pipe.read.reset();                       // ...then close.

  WriteByte(pipe.write.get());
  WriteByte(control.write.get());
  std::vector<Event> seen = WaitFor(*poll_, Token{55});
  ASSERT_TRUE(HasToken(seen, Token{55}))
      << "the control pipe (token 55) was readable but never reported: "
      << DescribeEvents(seen);
  EXPECT_FALSE(HasToken(seen, Token{53}))
      << "the fd was deregistered before it was closed, so token 53 must not "
         "be reported even though a dup keeps the pipe open. Got "
      << DescribeEvents(seen) << "." << kReadme;

  // The dup is an ordinary fd: it can be registered under its own token.
  registry().Register(clone.get(), Token{54}, Interest::kReadable);
  seen = WaitFor(*poll_, Token{54});
  EXPECT_TRUE(HasToken(seen, Token{54}))
      << "the dup, registered with token 54, should be reported readable (the "
         "byte written above is unread); got "
      << DescribeEvents(seen) << "." << kReadme;
}

TEST_F(DupPitfallTest, DeregisterOfAnFdClosedWhileRegisteredForgetsIt) {
  Pipe pipe = NonBlockingPipe();
  const int fd = pipe.read.get();
  registry().Register(fd, Token{56}, Interest::kReadable);
  pipe.read
      .reset();  // Closed while registered (no dup: the kernel forgets it).
  ExpectRegistryError(ErrorFrom([&] { registry().Deregister(fd); },
                                "Deregister of an fd closed while registered"),
                      EBADF, "Deregister", fd, "the fd was closed");

  // Give the number to a new pipe. The Registry must have forgotten the old
  // entry.
  Fd reopened = ReopenAs(fd);
  EXPECT_NO_THROW(registry().Register(fd, Token{57}, Interest::kReadable))
      << "fd " << fd
      << " now names a new pipe. Deregister of the closed fd said EBADF but "
         "should also have removed it from the table, or this number could "
         "never be registered again."
      << kReadme;
}

TEST_F(DupPitfallTest, ANumberReusedWhileRegisteredCanBeDeregistered) {
  Pipe pipe = NonBlockingPipe();
  const int fd = pipe.read.get();
  registry().Register(fd, Token{58}, Interest::kReadable);
  pipe.read.reset();           // Closed while registered...
  Fd reopened = ReopenAs(fd);  // ...and the kernel hands the number out again.

  ExpectRegistryError(
      ErrorFrom(
          [&] { registry().Register(fd, Token{59}, Interest::kReadable); },
          "Register of a reused fd number still in the table"),
      EEXIST, "Register", fd,
      "the table still holds the number of the fd that was closed while "
      "registered");
  EXPECT_NO_THROW(registry().Deregister(fd))
      << "fd " << fd
      << " is open again and in the table, so Deregister should succeed, "
         "although the kernel has no registration for the new fd (epoll says "
         "ENOENT: tolerate it, as the kqueue selector does), so that both "
         "backends agree and the number can be used again."
      << kReadme;
  EXPECT_NO_THROW(registry().Register(fd, Token{59}, Interest::kReadable))
      << "after Deregister, the reused number should be registrable."
      << kReadme;
}

// -----------------------------------------------------------------------------
// Retain: given in the starter (lesson 09 uses it).

TEST(PollRetainTest, RetainedIsReleasedAfterThePollClosesItsSelector) {
  if (!IsBuilt(kBackend)) GTEST_SKIP() << BackendName(kBackend) << " not built";
  std::vector<std::string> order;
  int selector_fd = -1;
  bool selector_open_at_release = true;
  {
    Poll poll(kBackend);
    selector_fd = poll.registry().selector_fd();
    std::shared_ptr<void> resource(new int(5), [&](void* p) {
      delete static_cast<int*>(p);
      selector_open_at_release = testing::IsOpen(selector_fd);
      order.push_back("resource released");
    });
    poll.registry().Retain(resource);
    resource.reset();
    EXPECT_TRUE(order.empty())
        << "the Poll should keep a retained resource alive while it lives";
    order.push_back("poll alive at end of scope");
  }
  EXPECT_EQ(order, (std::vector<std::string>{"poll alive at end of scope",
                                             "resource released"}));
  EXPECT_FALSE(selector_open_at_release)
      << "retained resources are released after the selector fd ("
      << selector_fd << ") is closed";
}

// -----------------------------------------------------------------------------
// No fd leaks.

using RegistryLeakTest = BackendTest;

TEST_F(RegistryLeakTest, AThousandRegisterDeregisterCyclesLeakNoFd) {
  const int fds_before = testing::CountOpenFds();
  for (int i = 0; i < 1000; ++i) {
    Pipe pipe = NonBlockingPipe();
    registry().Register(pipe.read.get(), Token{60}, Interest::kReadable);
    registry().Deregister(pipe.read.get());
  }
  EXPECT_EQ(testing::CountOpenFds(), fds_before)
      << "1000 register/deregister cycles of a pipe should leave as many fds "
         "open as before"
      << kReadme;
}

TEST(PollLeakTest, AThousandPollsLeakNoFd) {
  if (!IsBuilt(kBackend)) GTEST_SKIP() << BackendName(kBackend) << " not built";
  // One Poll first, here rather than in an earlier test: the Linux kqueue
  // emulation frees a closed kqueue's hidden eventfd at the next kqueue() call
  // (docs/kqueue-emulation.md, difference 2), so one closed kqueue's eventfd
  // is always still open. Counting after one cycle counts it before and after;
  // a Poll that leaks anything still adds 1000 to the count.
  { Poll warm_up(kBackend); }
  const int fds_before = testing::CountOpenFds();
  for (int i = 0; i < 1000; ++i) {
    Poll poll(kBackend);
  }
  EXPECT_EQ(testing::CountOpenFds(), fds_before)
      << "creating and destroying 1000 Polls should leave as many fds open as "
         "before";
}

}  // namespace
}  // namespace loop
