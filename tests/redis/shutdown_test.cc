// Shutdown of the reference server (loop/redis) by a signal while a slow
// command runs: Run() goes through two turns of the loop (serve, then the
// grace period), and the signal that started it all must still be the one
// reported, as server_main.cc's last line prints it.
#include <signal.h>
#include <unistd.h>

#include <chrono>

#include "gtest/gtest.h"
#include "loop/redis/server.h"
#include "tests/support/deadline.h"
#include "tests/support/resp_client.h"
#include "tests/support/server_thread.h"

namespace loop {
namespace {

using testing::Command;
using testing::RespClient;
using testing::ServerThread;

TEST(Shutdown, ASignalDuringASlowCommandIsTheSignalReported) {
  ServerOptions o;
  o.stop_on_signals = true;
  o.shutdown_grace = std::chrono::milliseconds(3000);
  ServerThread s(o);
  RespClient c = s.Connect();
  ASSERT_TRUE(c.Send(Command({"PING"})));
  ASSERT_EQ(c.Reply(), "+PONG\r\n");
  ASSERT_TRUE(c.Send(Command({"DEBUG", "SLEEP", "30"})));
  // Executed (the second command) means handed to a worker: the signal now
  // comes while the slow command runs, and the shutdown cuts it short.
  ASSERT_TRUE(testing::WaitUntil([&s] {
    return s.server().stats().commands == 2;
  })) << "the server never started DEBUG SLEEP";
  ASSERT_EQ(kill(getpid(), SIGINT), 0);
  ASSERT_TRUE(testing::WaitUntil([&s] { return s.finished(); }))
      << "SIGINT did not stop Run()";
  EXPECT_EQ(s.server().stopped_by_signal(), SIGINT)
      << "the grace period ran the loop a second time, and the signal that "
         "started the shutdown was forgotten";
  EXPECT_EQ(s.Failure(), "");
}

}  // namespace
}  // namespace loop
