// A RESP test client for lesson 12 and tests/redis: a blocking loopback
// socket whose every wait has a deadline, and that reads whole replies.
//
//   RespClient c = RespClient::Connect(port);
//   c.Send(Command({"SET", "k", "v"}));
//   EXPECT_EQ(c.Reply(), "+OK\r\n");
//   EXPECT_EQ(c.Ask(Command({"GET", "k"})), "$1\r\nv\r\n");  // both at once
//
// Reply() returns one whole reply's raw bytes, or a text starting with "!"
// that says what happened instead: "!timeout ...", "!closed ...", or, when
// the `give_up` function passed to Connect returns a reason (a server thread
// that died, say), "!gave up: <reason>". Thread-compatible: one thread per
// client at a time.
#ifndef TESTS_SUPPORT_RESP_CLIENT_H_
#define TESTS_SUPPORT_RESP_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "loop/fd.h"
#include "tests/support/deadline.h"

namespace loop {
namespace testing {

// The RESP array of bulk strings that clients send: Command({"GET", "k"}).
std::string Command(std::initializer_list<std::string_view> words);

// The length of the whole reply at the front of `bytes`: 0 if it is not all
// there yet, -1 if it is not RESP.
long ReplyLength(std::string_view bytes);

class RespClient {
 public:
  using GiveUp = std::function<std::string()>;  // "" means keep waiting

  // Connects to 127.0.0.1:port. Throws SysError.
  static RespClient Connect(int port, GiveUp give_up = nullptr);
  // Connects to a Unix socket (a redis-server started with --unixsocket).
  // Throws SysError.
  static RespClient ConnectUnix(const std::string& path);
  // The same in two steps: a socket now, connected later by ConnectTo (which
  // needs no new descriptor: for tests that use up the process's fds).
  static RespClient Open(GiveUp give_up = nullptr);
  void ConnectTo(int port);

  // Writes all of `bytes`; false (with *error set) if the deadline passed or
  // the connection failed first.
  bool Send(std::string_view bytes, milliseconds deadline = kDefaultDeadline,
            std::string* error = nullptr);
  std::string Reply(milliseconds deadline = kDefaultDeadline);
  // Send(request), then Reply(): the one reply, or a "!..." text that says
  // what happened instead, a failed send included.
  std::string Ask(std::string_view request,
                  milliseconds deadline = kDefaultDeadline);
  // How many bytes of an unfinished reply have come so far: after a Reply()
  // that said "!timeout ...", how much of the reply did arrive.
  std::size_t partial_bytes() const { return buffered_.size(); }
  // Reads and drops bytes until the server closes the connection: true if it
  // did within the deadline. *extra gets what came first (if not null).
  bool ClosedWithin(milliseconds deadline = kDefaultDeadline,
                    std::string* extra = nullptr);
  // True if a reply (or any byte) is ready to read now, without waiting.
  bool HasDataNow();
  void ShutdownWrite();  // shutdown(SHUT_WR): a half-close
  void Reset();          // close with SO_LINGER 0: the server sees ECONNRESET
  int fd() const { return fd_.get(); }

 private:
  RespClient(Fd fd, GiveUp give_up)
      : fd_(std::move(fd)), give_up_(std::move(give_up)) {}
  // Waits for `events` (POLLIN/POLLOUT) until `until`, in 20 ms slices so
  // that give_up_ is asked often. "" when ready, else the "!..." text.
  std::string WaitFor(short events, Clock::time_point until);

  Fd fd_;
  GiveUp give_up_;
  std::string buffered_;  // read but not yet returned
};

}  // namespace testing
}  // namespace loop

#endif  // TESTS_SUPPORT_RESP_CLIENT_H_
