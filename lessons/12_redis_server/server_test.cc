// Lesson 12: the server, end to end over loopback.
//
// This file is compiled twice (see BUILD.bazel): server_epoll_test with
// LOOP_TEST_BACKEND=kEpoll and server_kqueue_test with kKqueue.
//
// How these tests work: each starts a Server on 127.0.0.1, port 0 (the kernel
// picks a free one), runs it on its own thread, and talks to it with
// RespClient (tests/support/resp_client.h), which sends raw RESP bytes and
// reads whole replies. Every wait has a deadline. If the server thread dies
// (your code threw), every client stops waiting and the test says why.
#include "loop/redis/server.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "loop/fd.h"
#include "tests/support/deadline.h"
#include "tests/support/fds.h"
#include "tests/support/resp_client.h"
#include "tests/support/server_thread.h"
#include "tests/support/threads.h"

#ifndef LOOP_TEST_BACKEND
#error "Build with LOOP_TEST_BACKEND=kEpoll or kKqueue (see BUILD.bazel)."
#endif

namespace loop {
namespace {

using std::chrono::milliseconds;
using testing::Command;
using testing::RespClient;
using testing::ServerThread;

constexpr Backend kBackend = Backend::LOOP_TEST_BACKEND;
constexpr char kReadme[] = " See lessons/12_redis_server/README.md.";

ServerOptions Opts() {
  ServerOptions o;
  o.backend = kBackend;
  o.shutdown_grace = milliseconds(3000);
  return o;
}

std::string Bulk(const std::string& bytes) {
  return "$" + std::to_string(bytes.size()) + "\r\n" + bytes + "\r\n";
}

// --- The basics ---

TEST(Basics, EachCommandGivesRedissReply) {
  ServerThread s(Opts());
  RespClient c = s.Connect();
  EXPECT_EQ(c.Ask(Command({"PING"})), "+PONG\r\n")
      << "the first reply of all; if it says '!gave up', read what the "
         "server threw";
  EXPECT_EQ(c.Ask(Command({"PING", "hi"})), "$2\r\nhi\r\n");
  EXPECT_EQ(c.Ask(Command({"ECHO", "hello"})), "$5\r\nhello\r\n");
  EXPECT_EQ(c.Ask(Command({"SET", "k", "v"})), "+OK\r\n");
  EXPECT_EQ(c.Ask(Command({"GET", "k"})), "$1\r\nv\r\n");
  EXPECT_EQ(c.Ask(Command({"GET", "nope"})), "$-1\r\n");
  EXPECT_EQ(c.Ask(Command({"EXISTS", "k", "nope", "k"})), ":2\r\n");
  EXPECT_EQ(c.Ask(Command({"INCR", "n"})), ":1\r\n");
  EXPECT_EQ(c.Ask(Command({"INCR", "n"})), ":2\r\n");
  EXPECT_EQ(c.Ask(Command({"INCR", "k"})),
            "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(c.Ask(Command({"DEL", "k", "n", "nope"})), ":2\r\n");
  EXPECT_EQ(c.Ask(Command({"DBSIZE"})), ":0\r\n");
  EXPECT_EQ(c.Ask(Command({"QUIT"})), "+OK\r\n");
  EXPECT_TRUE(c.ClosedWithin()) << "QUIT: reply +OK, then close";
}

TEST(Basics, InlineCommandsAsTypedIntoNetcat) {
  ServerThread s(Opts());
  RespClient c = s.Connect();
  EXPECT_EQ(c.Ask("PING\r\n"), "+PONG\r\n");
  EXPECT_EQ(c.Ask("SET greeting hello\n"), "+OK\r\n");
  EXPECT_EQ(c.Ask("GET greeting\r\n"), "$5\r\nhello\r\n");
}

// --- Step 1: accepting. The first three pass once AcceptClients works ---

TEST(Accept, TwoHundredClientsConnectedAtOnceAreAllAccepted) {
  ServerThread s(Opts());
  // All 200 connect at once: they wait in the listen queue together, and one
  // edge-triggered event stands for all of them.
  std::vector<RespClient> clients;
  for (int i = 0; i < 200; ++i) clients.push_back(s.Connect());
  EXPECT_TRUE(testing::WaitUntil([&s] {
    return s.server().stats().accepted == 200 || !s.Failure().empty();
  })) << "the server accepted "
      << s.server().stats().accepted
      << " of 200 clients waiting together. Accept until EAGAIN: one event "
         "can stand for many clients in the queue, and there will be no other";
  EXPECT_EQ(s.Failure(), "");
}

TEST(Accept, OutOfDescriptorsDoesNotSpinAndRecovers) {
  ServerThread s(Opts());
  RespClient first = s.Connect();
  ASSERT_TRUE(testing::WaitUntil([&s] {
    return s.server().stats().accepted == 1 || !s.Failure().empty();
  })) << "the server never accepted its first client: "
      << s.Failure();
  // This client's socket is made first; then every free descriptor of the
  // process is used up, so the server's accept4 fails with EMFILE.
  RespClient later = RespClient::Open([&s] { return s.Failure(); });
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old_limit), 0);
  struct rlimit low = old_limit;
  low.rlim_cur = static_cast<rlim_t>(testing::CountOpenFds() + 16);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<Fd> hog;
  for (;;) {
    const int fd = dup(STDERR_FILENO);
    if (fd < 0) break;
    hog.emplace_back(fd);
  }
  // connect() needs no descriptor on this side: the socket exists already.
  later.ConnectTo(s.port());
  std::string extra;
  const bool closed = later.ClosedWithin(testing::kDefaultDeadline, &extra);
  hog.resize(hog.size() > 4 ? hog.size() - 4 : 0);  // room to read /proc
  const bool asleep =
      testing::WaitUntilBlockedInKernel(s.tid(), milliseconds(2000));
  hog.clear();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old_limit), 0);
  EXPECT_EQ(s.Failure(), "");
  EXPECT_TRUE(closed)
      << "a client that arrived while the process had no descriptor left "
         "was neither served nor closed: on EMFILE, call ShedOneConnection() "
         "(it frees the reserve fd, accepts and closes that client)";
  EXPECT_TRUE(asleep) << "the loop thread never went back to sleep after "
                         "EMFILE: is AcceptClients retrying accept4 at once?";
  EXPECT_GE(s.server().stats().shed, 1u);
  RespClient after = s.Connect();
  EXPECT_TRUE(testing::WaitUntil([&s] {
    return s.server().stats().accepted == 2 || !s.Failure().empty();
  })) << "once descriptors are free again, new clients must be accepted";
}

TEST(Accept, AFloodPastTheConnectionLimitIsToldAndClosed) {
  ServerOptions o = Opts();
  o.max_clients = 10;
  ServerThread s(o);
  std::vector<RespClient> clients;
  for (int i = 0; i < 30; ++i) clients.push_back(s.Connect());
  ASSERT_TRUE(testing::WaitUntil([&s] {
    const ServerStats st = s.server().stats();
    return st.accepted + st.rejected == 30 || !s.Failure().empty();
  })) << "the server took "
      << s.server().stats().accepted << " + " << s.server().stats().rejected
      << " of 30 clients: accept until EAGAIN";
  EXPECT_EQ(s.server().stats().accepted, 10u);
  EXPECT_EQ(s.server().stats().rejected, 20u);
  // The first 10 in the queue are served; the rest are told and closed
  // (AddConnection does that).
  for (int i = 10; i < 30; ++i) {
    EXPECT_EQ(clients[i].Reply(), "-ERR max number of clients reached\r\n");
    EXPECT_TRUE(clients[i].ClosedWithin()) << "a refused client is closed";
  }
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(clients[i].HasDataNow()) << "client " << i << " is served";
  }
}

TEST(Accept, AClientThatLeavesMakesRoomForANewOne) {
  ServerOptions o = Opts();
  o.max_clients = 1;
  ServerThread s(o);
  {
    RespClient only = s.Connect();
    ASSERT_EQ(only.Ask(Command({"PING"})), "+PONG\r\n");
  }  // closed: the server reads 0 and closes its end
  ASSERT_TRUE(testing::WaitUntil([&s] { return s.server().stats().open == 0; }))
      << "a client that closed its end is still counted open: when read() "
         "returns 0, answer what was sent and close the connection";
  RespClient next = s.Connect();
  EXPECT_EQ(next.Ask(Command({"PING"})), "+PONG\r\n");
}

// --- Steps 2 to 4: reading, processing, writing ---

TEST(Serve, TwoHundredConcurrentClientsEachGetTheirOwnReplies) {
  ServerThread s(Opts());
  std::vector<RespClient> clients;
  for (int i = 0; i < 200; ++i) clients.push_back(s.Connect());
  for (int i = 0; i < 200; ++i) {
    std::string error;
    ASSERT_TRUE(clients[i].Send(
        Command({"SET", "key" + std::to_string(i), std::to_string(i)}),
        testing::kDefaultDeadline, &error))
        << error;
  }
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(clients[i].Reply(), "+OK\r\n") << "client " << i << " of 200";
  }
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(clients[i].Ask(Command({"GET", "key" + std::to_string(i)})),
              Bulk(std::to_string(i)))
        << "client " << i << " of 200";
  }
}

TEST(Pipeline, AThousandCommandsInOneWriteAreAnsweredInOrder) {
  ServerThread s(Opts());
  RespClient c = s.Connect();
  std::string batch;
  for (int i = 0; i < 1000; ++i) batch += Command({"INCR", "counter"});
  std::string error;
  ASSERT_TRUE(c.Send(batch, testing::kDefaultDeadline, &error)) << error;
  for (int i = 1; i <= 1000; ++i) {
    const std::string reply = c.Reply();
    ASSERT_EQ(reply, ":" + std::to_string(i) + "\r\n")
        << "reply " << i << " of 1000 pipelined INCRs"
        << (reply.rfind("!timeout", 0) == 0
                ? ": execute every whole request in the buffer, not one per "
                  "read"
                : "");
  }
}

TEST(Pipeline, ARequestThatArrivesAByteAtATimeIsAnsweredOnce) {
  ServerThread s(Opts());
  RespClient c = s.Connect();
  const std::string request = Command({"ECHO", "split"}) + "PING\r\n";
  for (char byte : request) {
    std::string error;
    ASSERT_TRUE(c.Send(std::string(1, byte), testing::kDefaultDeadline, &error))
        << error;
  }
  EXPECT_EQ(c.Reply(), "$5\r\nsplit\r\n");
  EXPECT_EQ(c.Reply(), "+PONG\r\n");
}

TEST(BigValues, AnEightMebibyteValueGoesInAndComesBackWhole) {
  ServerThread s(Opts());
  RespClient c = s.Connect();
  std::string value(8 << 20, '\0');
  std::mt19937 rng(12);
  for (char& ch : value) ch = static_cast<char>(rng());
  // 8 MiB does not fit in the kernel's socket buffers: both directions take
  // many partial reads and writes.
  EXPECT_EQ(c.Ask(Command({"SET", "big", value})), "+OK\r\n");
  const std::string reply = c.Ask(Command({"GET", "big"}));
  // The whole reply: "$8388608\r\n", the value, "\r\n".
  const std::size_t reply_bytes_expected = Bulk(value).size();
  const bool whole = reply[0] != '!';
  const std::size_t reply_bytes_received =
      whole ? reply.size() : c.partial_bytes();
  ASSERT_TRUE(whole && reply_bytes_received == reply_bytes_expected)
      << "the GET of 8 MiB got " << reply_bytes_received << " of its "
      << reply_bytes_expected
      << " bytes of reply (the value and its RESP header)"
      << (whole ? ", a whole reply but not the value: " + reply.substr(0, 60)
                : ", then the client said: " + reply + ".")
      << (reply.rfind("!timeout", 0) == 0
              ? " A write that sends only part of the output must ask for "
                "kWritable (Rewatch) and go on when the socket is writable "
                "again."
              : "")
      << kReadme;
  EXPECT_TRUE(reply == Bulk(value)) << "the 8 MiB came back changed";
  EXPECT_EQ(c.Ask(Command({"PING"})), "+PONG\r\n");
}

TEST(BigValues, ASlowReaderDoesNotHoldUpOthersAndGetsEveryReply) {
  ServerThread s(Opts());
  RespClient slow = s.Connect();
  const std::string value(1 << 20, 'v');
  ASSERT_EQ(slow.Ask(Command({"SET", "v", value})), "+OK\r\n");
  // 48 replies of 1 MiB, asked for at once and not read yet: far more than
  // the kernel buffers, so the server must stop and wait for this client.
  std::string batch;
  for (int i = 0; i < 48; ++i) batch += Command({"GET", "v"});
  std::string error;
  ASSERT_TRUE(slow.Send(batch, testing::kDefaultDeadline, &error)) << error;
  RespClient other = s.Connect();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(other.Ask(Command({"PING"})), "+PONG\r\n")
        << "while one client does not read its replies, another must still "
           "be served: is Flush waiting for a socket that is full?";
  }
  for (int i = 0; i < 48; ++i) {
    const std::string reply = slow.Reply();
    ASSERT_TRUE(reply == Bulk(value))
        << "reply " << i
        << " of 48: " << (reply[0] == '!' ? reply : "not the 1 MiB value");
  }
}

// --- Fair turns: one client never holds the loop ---

// A pipeline of INCRs from one client, already waiting in the kernel when the
// server starts, and one GET from another client, also waiting. The GET's
// reply says exactly how many INCRs ran before it: a server that reads each
// client once per turn runs at most a read's worth (kReadChunk bytes of INCRs)
// first; one that reads a client until EAGAIN runs all that the kernel holds
// (over 100 KiB of them), and more while the writer keeps refilling.
TEST(FairTurns, AStreamingClientDoesNotHoldTheLoop) {
  ServerThread s(Opts(), /*run_now=*/false);
  RespClient streamer = s.Connect();
  RespClient probe = s.Connect();
  const std::string incr = Command({"INCR", "fair"});
  const long one_read = static_cast<long>(kReadChunk / incr.size()) + 1;
  constexpr int kIncrs = 100000;  // 2.3 MB
  // The head, three reads' worth (about 48 KiB), is in the kernel before the
  // server starts: the socket buffers take it at once. The writer sends the
  // rest, refilling them as the server reads.
  const int head = static_cast<int>(3 * one_read);
  std::string first;
  for (int i = 0; i < head; ++i) first += incr;
  std::string pipeline;
  for (int i = head; i < kIncrs; ++i) pipeline += incr;
  std::string error;
  ASSERT_TRUE(streamer.Send(first, testing::kDefaultDeadline, &error)) << error;
  ASSERT_TRUE(
      probe.Send(Command({"GET", "fair"}), testing::kDefaultDeadline, &error))
      << error;
  std::thread writer([&] {
    // Blocks (with a deadline) whenever the server is not reading.
    streamer.Send(pipeline, std::chrono::seconds(20));
  });
  s.Start();
  const std::string reply = probe.Reply();
  writer.join();
  ASSERT_EQ(reply.rfind("$", 0), 0u) << "the GET's reply: " << reply;
  // "$-1": no INCR had run yet; else the count, as a bulk string.
  const long before =
      reply == "$-1\r\n" ? 0 : std::stol(reply.substr(reply.find("\r\n") + 2));
  EXPECT_LE(before, 2 * one_read)
      << before << " of one client's INCRs ran before another client's GET, "
      << "which was waiting all along. Read each client once per event (one "
         "read of kReadChunk, at most "
      << one_read
      << " INCRs here), and "
         "come back for a full read on a later turn (ReadAgainLater): a "
         "client read until EAGAIN holds the loop as long as it keeps "
         "sending."
      << kReadme;
}

// --- Flush: writability only while output waits ---

// On this edge-triggered loop, writability left in the interest after the
// output is sent does not spin: the kernel still reports the socket each time
// acknowledged bytes make room in its send buffer, a wakeup with nothing to
// read and nothing to write. Replies bigger than the send buffer make such
// room many times.
TEST(Flush, WritabilityIsAskedForOnlyWhileOutputWaits) {
  ServerThread s(Opts());
  RespClient c = s.Connect();
  const std::string value(std::size_t{4} << 20, 'w');
  ASSERT_EQ(c.Ask(Command({"SET", "big", value})), "+OK\r\n");
  // The reference has no such wakeup. With kWritable left on, epoll makes few
  // (8 to 29 over 60 replies in our runs; 4 to 10 over 30, too few for a
  // bound of 5), the kqueue emulation many (75 to 133 over 60).
  constexpr int kRounds = 60;
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_EQ(c.Ask(Command({"GET", "big"})), Bulk(value)) << "round " << i;
    ASSERT_EQ(c.Ask(Command({"PING"})), "+PONG\r\n");
  }
  const std::uint64_t idle = s.server().stats().idle_events;
  EXPECT_LE(idle, 2u)
      << kRounds << " big replies woke the loop " << idle
      << " times for a client with nothing to read and nothing to write: "
         "kWritable stays in the interest after the output is sent. Rewatch "
         "for kReadable alone once c.out is empty (Step 4)."
      << kReadme;
}

TEST(HalfClose, RequestsSentBeforeShutdownWriteAreAnsweredThenClosed) {
  ServerThread s(Opts());
  RespClient c = s.Connect();
  std::string error;
  ASSERT_TRUE(c.Send(Command({"PING"}) + Command({"ECHO", "last"}),
                     testing::kDefaultDeadline, &error))
      << error;
  c.ShutdownWrite();  // "I have nothing more to send": read returns 0
  EXPECT_EQ(c.Reply(), "+PONG\r\n");
  EXPECT_EQ(c.Reply(), "$4\r\nlast\r\n")
      << "at the end of the stream, answer what came before it";
  EXPECT_TRUE(c.ClosedWithin())
      << "after read() returned 0 and the replies went out, close the "
         "connection (or it stays open for ever)";
  EXPECT_TRUE(
      testing::WaitUntil([&s] { return s.server().stats().open == 0; }));
}

// The end of the stream ends the input, not the output: a reply too big for
// the socket buffers is still being written when read() returns 0.
TEST(HalfClose, AReplyStillBeingSentAtTheEndOfTheStreamGoesOutWhole) {
  ServerOptions o = Opts();
  // Above the reply, so the connection is never paused: the server reads the
  // end of the stream as soon as it comes, while the reply is still going out.
  o.output_high_water = std::size_t{64} << 20;
  ServerThread s(o);
  RespClient c = s.Connect();
  const std::string value(std::size_t{32} << 20, 'h');
  ASSERT_EQ(c.Ask(Command({"SET", "big", value})), "+OK\r\n");
  std::string error;
  ASSERT_TRUE(
      c.Send(Command({"GET", "big"}), testing::kDefaultDeadline, &error))
      << error;
  c.ShutdownWrite();  // before a byte of the 32 MiB reply is read
  const std::string reply = c.Reply();
  ASSERT_EQ(reply.size(), Bulk(value).size())
      << (reply[0] == '!' ? reply : "the reply came back cut")
      << ": the client half-closed while its 32 MiB reply was still being "
         "written, and the connection closed before the rest went out. "
         "read() returning 0 ends the input only: set c.read_closed and "
         "Process, and Flush closes once c.out is empty (Step 2)."
      << kReadme;
  EXPECT_TRUE(reply == Bulk(value)) << "the 32 MiB came back changed";
  EXPECT_TRUE(c.ClosedWithin())
      << "after the last reply went out, close the connection";
}

TEST(HalfClose, AClientThatResetsClosesOnlyItsOwnConnection) {
  ServerThread s(Opts());
  RespClient other = s.Connect();
  ASSERT_EQ(other.Ask(Command({"PING"})), "+PONG\r\n");
  {
    RespClient rude = s.Connect();
    ASSERT_EQ(rude.Ask(Command({"PING"})), "+PONG\r\n");
    std::string error;
    ASSERT_TRUE(
        rude.Send(Command({"GET", "x"}), testing::kDefaultDeadline, &error));
    rude.Reset();  // RST: the server's read or write says ECONNRESET
  }
  ASSERT_TRUE(testing::WaitUntil([&s] {
    return s.server().stats().closed >= 1;
  })) << "the reset connection was never closed";
  EXPECT_EQ(s.Failure(), "") << "ECONNRESET must close that client only";
  EXPECT_EQ(other.Ask(Command({"PING"})), "+PONG\r\n");
}

// A client half-closes, then resets, while its slow command runs: the reply's
// send() finds the connection gone (EPIPE), and only that connection may go.
// Without MSG_NOSIGNAL the kernel also sends SIGPIPE, whose default action
// ends the whole server, and this test binary with it: the log then stops
// at this test's [ RUN ] line.
TEST(HalfClose, AReplyToAClientThatHasGoneClosesOnlyItsConnection) {
  ServerThread s(Opts());
  RespClient other = s.Connect();
  ASSERT_EQ(other.Ask(Command({"PING"})), "+PONG\r\n");
  {
    RespClient gone = s.Connect();
    std::string error;
    ASSERT_TRUE(gone.Send(Command({"DEBUG", "SLEEP", "0.3"}),
                          testing::kDefaultDeadline, &error))
        << error;
    // The sleep runs (PING and DEBUG SLEEP executed) before the client goes.
    ASSERT_TRUE(testing::WaitUntil([&s] {
      return s.server().stats().commands >= 2 || !s.Failure().empty();
    })) << "DEBUG SLEEP was never executed";
    gone.ShutdownWrite();  // FIN: the server's end is now in CLOSE_WAIT,
    gone.Reset();          // so this RST makes its next send() say EPIPE
  }
  ASSERT_TRUE(testing::WaitUntil([&s] {
    return s.server().stats().closed >= 1 || !s.Failure().empty();
  })) << "the connection of the client that had gone was never closed";
  EXPECT_EQ(s.Failure(), "")
      << "a send() to a client that has gone must close that client only";
  EXPECT_EQ(other.Ask(Command({"PING"})), "+PONG\r\n");
}

// --- Bad input ---

TEST(BadInput, UnknownCommandsAndWrongArityGetAnErrorAndTheConnectionStays) {
  ServerThread s(Opts());
  RespClient c = s.Connect();
  EXPECT_EQ(c.Ask(Command({"FROB", "a", "b"})),
            "-ERR unknown command 'FROB', with args beginning with: 'a' "
            "'b' \r\n");
  EXPECT_EQ(c.Ask(Command({"GET"})),
            "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(c.Ask(Command({"PING"})), "+PONG\r\n")
      << "an error reply is not a reason to close";
}

TEST(BadInput, MalformedRespGetsAProtocolErrorAndClosesOnlyThatConnection) {
  ServerThread s(Opts());
  RespClient bystander = s.Connect();
  ASSERT_EQ(bystander.Ask(Command({"SET", "safe", "yes"})), "+OK\r\n");
  RespClient bad = s.Connect();
  EXPECT_EQ(bad.Ask(Command({"PING"}) + "*2\r\n$x\r\n"), "+PONG\r\n")
      << "requests before the bad one are answered";
  EXPECT_EQ(bad.Reply(), "-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_TRUE(bad.ClosedWithin())
      << "after a protocol error the stream cannot be trusted: reply, then "
         "close, as Redis does";
  EXPECT_EQ(bystander.Ask(Command({"GET", "safe"})), "$3\r\nyes\r\n");
}

TEST(BadInput, AHugeBulkLengthIsRefusedBeforeItsBytesArrive) {
  ServerThread s(Opts());
  RespClient c = s.Connect();
  // Announces 1 TB and sends none of it: the server must not wait for it,
  // nor try to allocate it.
  EXPECT_EQ(c.Ask("*2\r\n$3\r\nSET\r\n$1000000000000\r\n"),
            "-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_TRUE(c.ClosedWithin());
}

TEST(BadInput, BinaryGarbageNeverHurtsTheServerOrAnotherClient) {
  ServerThread s(Opts());
  RespClient bystander = s.Connect();
  ASSERT_EQ(bystander.Ask(Command({"PING"})), "+PONG\r\n");
  std::mt19937 rng(2026);
  for (int round = 0; round < 20; ++round) {
    RespClient junk = s.Connect();
    std::string bytes(4096, '\0');
    for (char& ch : bytes) ch = static_cast<char>(rng());
    if (round % 2 == 0) bytes[0] = '*';  // half of them look like arrays
    std::string error;  // the send may fail: the server may close first
    if (junk.Send(bytes, testing::kDefaultDeadline, &error)) {
      junk.ShutdownWrite();
    }
    std::string got;
    EXPECT_TRUE(junk.ClosedWithin(testing::kDefaultDeadline, &got))
        << "round " << round << ": the server neither finished with the "
        << "garbage nor closed; it sent: " << got.substr(0, 200);
    EXPECT_TRUE(got.empty() || got[0] == '-')
        << "garbage may only get error replies, got: " << got.substr(0, 200);
  }
  EXPECT_EQ(s.Failure(), "");
  EXPECT_EQ(bystander.Ask(Command({"PING"})), "+PONG\r\n");
}

// --- The slow command: Offload, end to end ---

TEST(Slow, OtherClientsAreAnsweredWhileASlowCommandRuns) {
  ServerThread s(Opts());
  RespClient sleeper = s.Connect();
  std::string error;
  // 30 s: far longer than this test, so the order below is certain.
  ASSERT_TRUE(
      sleeper.Send(Command({"DEBUG", "SLEEP", "30"}) + Command({"PING"}),
                   testing::kDefaultDeadline, &error))
      << error;
  RespClient other = s.Connect();
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(other.Ask(Command({"INCR", "n"})),
              ":" + std::to_string(i + 1) + "\r\n")
        << "the loop thread must serve others while DEBUG SLEEP runs on a "
           "worker";
  }
  EXPECT_FALSE(sleeper.HasDataNow())
      << "the PING after DEBUG SLEEP was answered before it: a connection "
         "with a slow command running must not execute its next requests "
         "(Paused)";
  // Shutdown cuts the sleep short; its reply still goes out.
  ASSERT_TRUE(s.StopAndWait()) << "Run() did not return after Stop()";
  EXPECT_EQ(sleeper.Reply(),
            "-ERR DEBUG SLEEP cut short: the server is shutting down\r\n");
  EXPECT_TRUE(sleeper.ClosedWithin())
      << "at shutdown, requests not yet executed are dropped and the "
         "connection closed";
}

TEST(Slow, RepliesStayInOrderAroundASlowCommand) {
  ServerThread s(Opts());
  RespClient c = s.Connect();
  std::string error;
  ASSERT_TRUE(c.Send(Command({"SET", "k", "1"}) +
                         Command({"DEBUG", "SLEEP", "0.05"}) +
                         Command({"INCR", "k"}) + Command({"GET", "k"}),
                     testing::kDefaultDeadline, &error))
      << error;
  EXPECT_EQ(c.Reply(), "+OK\r\n");
  EXPECT_EQ(c.Reply(), "+OK\r\n") << "DEBUG SLEEP's reply, second";
  EXPECT_EQ(c.Reply(), ":2\r\n");
  EXPECT_EQ(c.Reply(), "$1\r\n2\r\n");
}

// --- Idle clients ---

TEST(Idle, AnIdleClientIsClosedAndOneWaitingForASlowReplyIsNot) {
  ServerOptions o = Opts();
  // 1 s: the waiting client's DEBUG SLEEP must start before its connection
  // has been quiet that long, on a loaded machine too.
  o.idle_timeout = milliseconds(1000);
  ServerThread s(o);
  RespClient idle = s.Connect();
  ASSERT_EQ(idle.Ask(Command({"PING"})), "+PONG\r\n");
  RespClient waiting = s.Connect();
  std::string error;
  ASSERT_TRUE(waiting.Send(Command({"DEBUG", "SLEEP", "2.5"}),
                           testing::kDefaultDeadline, &error));
  EXPECT_TRUE(idle.ClosedWithin()) << "an idle client must be closed";
  EXPECT_EQ(waiting.Reply(), "+OK\r\n")
      << "a client waiting for a slow reply is not idle";
  EXPECT_GE(s.server().stats().idle_closed, 1u);
}

// --- Shutdown ---

TEST(Shutdown, StopWithClientsConnectedWritesTheirRepliesAndClosesEverything) {
  // One server started and stopped first, here rather than in an earlier
  // test: the Linux kqueue emulation frees a closed kqueue's hidden eventfd
  // only at the next kqueue() call (docs/kqueue-emulation.md, difference 2),
  // so the count before must already include one closed server's leftovers.
  { ServerThread warm_up(Opts()); }
  const int fds_before = testing::CountOpenFds();
  {
    ServerThread s(Opts());
    std::vector<RespClient> clients;
    for (int i = 0; i < 5; ++i) {
      clients.push_back(s.Connect());
      ASSERT_EQ(clients.back().Ask(Command({"PING"})), "+PONG\r\n");
    }
    // One client asks for 16 MiB and reads none of it before the stop.
    RespClient reader = s.Connect();
    const std::string value(16 << 20, 'x');
    ASSERT_EQ(reader.Ask(Command({"SET", "v", value})), "+OK\r\n");
    std::string error;
    ASSERT_TRUE(
        reader.Send(Command({"GET", "v"}), testing::kDefaultDeadline, &error));
    ASSERT_TRUE(
        testing::WaitUntil([&s] { return s.server().stats().commands >= 7; }));
    s.server().Stop();
    EXPECT_TRUE(reader.Reply() == Bulk(value))
        << "a reply made before the stop must be written in full";
    EXPECT_TRUE(testing::WaitUntil([&s] { return s.finished(); }))
        << "Run() did not return after Stop()";
    for (RespClient& c : clients) {
      EXPECT_TRUE(c.ClosedWithin()) << "shutdown must close every client";
    }
    EXPECT_TRUE(reader.ClosedWithin());
    EXPECT_EQ(s.Failure(), "");
  }
  EXPECT_EQ(testing::CountOpenFds(), fds_before)
      << "descriptors leaked by the server";
}

TEST(Shutdown, SigtermStopsTheServerCleanly) {
  ServerOptions o = Opts();
  o.stop_on_signals = true;
  ServerThread s(o);
  RespClient c = s.Connect();
  // Run() set up the signal handlers before it served anything.
  ASSERT_EQ(c.Ask(Command({"PING"})), "+PONG\r\n");
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  ASSERT_TRUE(testing::WaitUntil([&s] { return s.finished(); }))
      << "SIGTERM did not stop Run()";
  EXPECT_EQ(s.server().stopped_by_signal(), SIGTERM);
  EXPECT_TRUE(c.ClosedWithin());
  EXPECT_EQ(s.Failure(), "");
}

}  // namespace
}  // namespace loop
