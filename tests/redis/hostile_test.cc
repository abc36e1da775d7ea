// Lesson 12's reference server against clients that attack it, one kind per
// test, each beside a well-behaved probe client that must still be served.
// Loopback only; every loop is bounded in count and every wait has a
// deadline. Assertions are counts and bounds (replies, descriptors, the
// process's resident memory, the parser's work), never wall-clock times.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "loop/redis/server.h"
#include "tests/support/deadline.h"
#include "tests/support/fds.h"
#include "tests/support/resp_client.h"
#include "tests/support/sanitized.h"
#include "tests/support/server_thread.h"

namespace loop {
namespace {

using testing::Command;
using testing::RespClient;
using testing::ServerThread;

// This process's resident memory, in KiB (the server runs in it). Under ASan
// and TSan it returns 0: their shadow memory and quarantine grow with every
// allocation, so a bound on resident memory says nothing there. The plain
// build checks the bounds, and ./tools/bench measures the figures.
long ResidentKib() {
#ifdef LOOP_TEST_SANITIZED
  return 0;
#else
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      long kib = 0;
      status >> kib;
      return kib;
    }
    status.ignore(4096, '\n');
  }
  return 0;  // no /proc (macOS): memory bounds pass trivially there
#endif
}

// The probe: a PING answered, on its own connection.
void ExpectProbeServed(RespClient& probe, const char* during) {
  EXPECT_EQ(probe.Ask(Command({"PING"})), "+PONG\r\n")
      << "a well-behaved client was not served " << during;
}

// Waits until the server has only `open` connections, then checks that the
// process holds no more descriptors than before the attack.
void ExpectBackToBaseline(ServerThread& s, std::size_t open, int fds_before) {
  EXPECT_TRUE(testing::WaitUntil([&] {
    return s.server().stats().open == open;
  })) << "connections still open: "
      << s.server().stats().open;
  EXPECT_LE(testing::CountOpenFds(), fds_before)
      << "descriptors did not come back to their number before the attack";
}

ServerOptions Opts() {
  ServerOptions o;
  o.shutdown_grace = std::chrono::milliseconds(2000);
  return o;
}

TEST(Hostile, SlowlorisConnectionsNeverHoldTheOthers) {
  ServerThread s(Opts());
  RespClient probe = s.Connect();
  ExpectProbeServed(probe, "at all");  // accepted: its server side is counted
  const int fds_before = testing::CountOpenFds();
  const long rss_before = ResidentKib();
  std::vector<RespClient> lorises;
  for (int i = 0; i < 200; ++i) lorises.push_back(s.Connect());
  const std::string request = Command({"SET", "slow", "loris"});
  for (std::size_t byte = 0; byte + 1 < request.size(); ++byte) {
    for (RespClient& c : lorises) ASSERT_TRUE(c.Send(request.substr(byte, 1)));
    ExpectProbeServed(probe, "while 200 clients trickle one byte each");
  }
  EXPECT_LE(ResidentKib() - rss_before, 8 * 1024)
      << "200 connections holding one unfinished request each";
  lorises.clear();
  ExpectProbeServed(probe, "after 200 slow clients left");
  ExpectBackToBaseline(s, 1, fds_before);
}

TEST(Hostile, AHugeDeclaredLengthCostsNothingUntilItsBytesArrive) {
  ServerThread s(Opts());
  RespClient probe = s.Connect();
  const long rss_before = ResidentKib();
  std::vector<RespClient> liars;
  for (int i = 0; i < 20; ++i) {
    liars.push_back(s.Connect());
    // 60 MB announced (under the 64 MiB limit), 1 KiB sent.
    ASSERT_TRUE(liars.back().Send("*2\r\n$3\r\nSET\r\n$60000000\r\n" +
                                  std::string(1024, 'x')));
  }
  ExpectProbeServed(probe, "while 20 clients announce 60 MB each");
  EXPECT_LE(ResidentKib() - rss_before, 8 * 1024)
      << "20 clients announced 60 MB each and sent 1 KiB: the server must "
         "not reserve what was only announced";
  RespClient over = s.Connect();
  EXPECT_EQ(over.Ask("*1\r\n$5000000000\r\n"),
            "-ERR Protocol error: invalid bulk length\r\n");
}

TEST(Hostile, AClientThatNeverReadsIsHeldAtTheHighWaterMark) {
  ServerThread s(Opts());
  RespClient probe = s.Connect();
  RespClient hog = s.Connect();
  ASSERT_EQ(hog.Ask(Command({"SET", "mb", std::string(1 << 20, 'm')})),
            "+OK\r\n");
  const long rss_before = ResidentKib();
  std::string batch;
  for (int i = 0; i < 64; ++i) batch += Command({"GET", "mb"});
  ASSERT_TRUE(hog.Send(batch));  // 64 MiB of replies asked for, none read
  for (int i = 0; i < 20; ++i)
    ExpectProbeServed(probe, "while one never reads");
  EXPECT_LE(ResidentKib() - rss_before, 24 * 1024)
      << "a client asked for 64 MiB and read none of it: the server must stop "
         "at output_high_water (8 MiB) plus what the kernel holds";
}

TEST(Hostile, ClientsThatVanishMidRequestLeaveNothingBehind) {
  ServerThread s(Opts());
  RespClient probe = s.Connect();
  ExpectProbeServed(probe, "at all");  // accepted: its server side is counted
  const int fds_before = testing::CountOpenFds();
  for (int round = 0; round < 5; ++round) {
    std::vector<RespClient> ghosts;
    for (int i = 0; i < 40; ++i) {
      ghosts.push_back(s.Connect());
      ASSERT_TRUE(
          ghosts.back().Send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nab"));
    }
    for (std::size_t i = 0; i < ghosts.size(); ++i) {
      if (i % 2 == 0) ghosts[i].Reset();  // RST: ECONNRESET on the server
    }
    ghosts.clear();  // the rest close normally: EOF mid-request
    ExpectProbeServed(probe, "while clients vanish mid-request");
  }
  ExpectBackToBaseline(s, 1, fds_before);
}

TEST(Hostile, BinaryGarbageIsRefusedAndHurtsNoOne) {
  ServerThread s(Opts());
  RespClient probe = s.Connect();
  ExpectProbeServed(probe, "at all");  // accepted: its server side is counted
  const int fds_before = testing::CountOpenFds();
  std::mt19937 random(12);  // fixed seed: a failure replays exactly
  for (int i = 0; i < 50; ++i) {
    RespClient c = s.Connect();
    std::string garbage(4096, '\0');
    for (char& b : garbage) b = static_cast<char>(random() & 0xff);
    if (i % 2 == 0) garbage[0] = '*';  // half of them look like multibulk
    c.Send(garbage);  // the server may close before all of it is sent
    c.ShutdownWrite();
    std::string extra;
    EXPECT_TRUE(c.ClosedWithin(testing::kDefaultDeadline, &extra))
        << "a client that sent garbage and then its end was never closed";
  }
  ExpectProbeServed(probe, "after 50 clients sent garbage");
  ExpectBackToBaseline(s, 1, fds_before);
}

TEST(Hostile, ConnectCloseChurnLeavesNothingBehind) {
  ServerThread s(Opts());
  RespClient probe = s.Connect();
  ExpectProbeServed(probe, "at all");  // accepted: its server side is counted
  const int fds_before = testing::CountOpenFds();
  for (int i = 0; i < 2000; ++i) RespClient::Connect(s.port());
  ExpectProbeServed(probe, "after 2,000 connections came and went");
  ExpectBackToBaseline(s, 1, fds_before);
  EXPECT_GE(s.server().stats().accepted, 2001u);
}

TEST(Hostile, AHugeRequestTrickledInCostsLinearParsing) {
  ServerThread s(Opts());
  RespClient probe = s.Connect();
  constexpr int kArgs = 60000;
  std::string request = "*" + std::to_string(kArgs) + "\r\n$3\r\nDEL\r\n";
  for (int i = 1; i < kArgs; ++i) request += "$1\r\na\r\n";
  {
    RespClient big = s.Connect();
    for (std::size_t at = 0; at < request.size(); at += 1000) {
      ASSERT_TRUE(big.Send(request.substr(at, 1000)));
      if (at % 100000 == 0)
        ExpectProbeServed(probe, "while a huge request trickles");
    }
    EXPECT_EQ(big.Reply(), ":0\r\n");
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return s.server().stats().open == 1; }));
  const std::uint64_t scanned = s.server().stats().parse_bytes_scanned;
  EXPECT_LE(scanned, 3 * request.size())
      << "the parser looked at " << scanned << " bytes for a request of "
      << request.size() << " that arrived in pieces: it rescans";
}

}  // namespace
}  // namespace loop
