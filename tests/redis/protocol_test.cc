// Redis's protocol, byte for byte: raw requests and the exact replies
// redis-server 7 gives them, held against lesson 12's reference server.
//
// The same table checks the real redis-server: protocol_vs_redis.sh starts
// one on a Unix socket and runs this test with REDIS_UNIX_SOCKET set, so a
// reply that drifts from Redis's fails there, not only here.
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "loop/redis/server.h"
#include "tests/support/resp_client.h"
#include "tests/support/server_thread.h"

namespace loop {
namespace {

using testing::RespClient;
using testing::ServerThread;

struct Case {
  const char* name;
  std::string request;  // raw bytes, sent in one write
  std::string replies;  // every byte the server answers, concatenated
  bool closes;          // the server then closes the connection
};

std::vector<Case> Cases() {
  const std::string ping = "*1\r\n$4\r\nPING\r\n";
  return {
      {"inline PING", "PING\r\n", "+PONG\r\n", false},
      {"multibulk PING", ping, "+PONG\r\n", false},
      {"a negative count is ignored and the stream goes on", "*-10\r\n" + ping,
       "+PONG\r\n", false},
      {"a zero count is ignored", "*0\r\n" + ping, "+PONG\r\n", false},
      {"a blank line is ignored", "\r\n" + ping, "+PONG\r\n", false},
      {"inline double quotes", "set \"pt a b\" c\r\nget \"pt a b\"\r\n",
       "+OK\r\n$1\r\nc\r\n", false},
      {"inline single quotes", "echo 'it\\'s'\r\n", "$4\r\nit's\r\n", false},
      {"inline escapes", "echo \"\\x41\\n\"\r\n", "$2\r\nA\n\r\n", false},
      {"the two bytes after a bulk are not checked",
       "*1\r\n$4\r\nPINGxy" + ping, "+PONG\r\n+PONG\r\n", false},
      {"unknown command", "FROB x\r\n",
       "-ERR unknown command 'FROB', with args beginning with: 'x' \r\n",
       false},
      {"wrong number of arguments", "GET\r\n",
       "-ERR wrong number of arguments for 'get' command\r\n", false},
      {"not an integer", "SET pt:n v\r\nINCR pt:n\r\n",
       "+OK\r\n-ERR value is not an integer or out of range\r\n", false},
      {"unbalanced double quotes", "echo \"abc\r\n",
       "-ERR Protocol error: unbalanced quotes in request\r\n", true},
      {"a closing quote glued to a word", "echo \"a\"b\r\n",
       "-ERR Protocol error: unbalanced quotes in request\r\n", true},
      {"a bulk without '$'", "*1\r\nPING\r\n",
       "-ERR Protocol error: expected '$', got 'P'\r\n", true},
      {"a count that is not a number", "*abc\r\n",
       "-ERR Protocol error: invalid multibulk length\r\n", true},
      {"a negative bulk length", "*1\r\n$-1\r\n",
       "-ERR Protocol error: invalid bulk length\r\n", true},
      {"a bulk length with a leading zero", "*1\r\n$04\r\nPING\r\n",
       "-ERR Protocol error: invalid bulk length\r\n", true},
      {"an endless inline line", std::string(70000, 'a'),
       "-ERR Protocol error: too big inline request\r\n", true},
      {"an endless count line", "*" + std::string(70000, '1'),
       "-ERR Protocol error: too big mbulk count string\r\n", true},
      {"an endless bulk length line", "*1\r\n$" + std::string(70000, '1'),
       "-ERR Protocol error: too big bulk count string\r\n", true},
  };
}

class Protocol : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const char* socket = std::getenv("REDIS_UNIX_SOCKET");
    if (socket != nullptr && *socket != '\0') {
      unix_socket_ = socket;
      return;
    }
    ServerOptions o;
    o.shutdown_grace = std::chrono::milliseconds(2000);
    server_ = std::make_unique<ServerThread>(o);
  }
  RespClient Connect() {
    if (unix_socket_) return RespClient::ConnectUnix(*unix_socket_);
    return server_->Connect();
  }
  const char* Who() const {
    return unix_socket_ ? "redis-server" : "lesson 12's reference server";
  }

 private:
  std::optional<std::string> unix_socket_;
  std::unique_ptr<ServerThread> server_;
};

INSTANTIATE_TEST_SUITE_P(Redis7, Protocol, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string name;
                           for (const char* p = info.param.name; *p; ++p) {
                             if (std::isalnum(static_cast<unsigned char>(*p)))
                               name += *p;
                           }
                           return name;
                         });

TEST_P(Protocol, RepliesAsRedisDoes) {
  const Case& c = GetParam();
  RespClient client = Connect();
  std::string error;
  ASSERT_TRUE(client.Send(c.request, testing::kDefaultDeadline, &error))
      << error;
  std::string got;
  while (got.size() < c.replies.size()) {
    const std::string reply = client.Reply();
    if (reply.rfind("!", 0) == 0) {
      got += "[" + reply + "]";
      break;
    }
    got += reply;
  }
  EXPECT_EQ(got, c.replies)
      << c.name << ": " << Who() << " answered differently";
  if (c.closes) {
    std::string extra;
    EXPECT_TRUE(client.ClosedWithin(testing::kDefaultDeadline, &extra))
        << c.name << ": " << Who()
        << " must close the connection after a protocol error";
    EXPECT_EQ(extra, "") << c.name << ": bytes after the error reply";
  } else {
    EXPECT_FALSE(client.HasDataNow()) << c.name << ": an extra reply";
  }
}

}  // namespace
}  // namespace loop
