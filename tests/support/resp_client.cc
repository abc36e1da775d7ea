#include "tests/support/resp_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "loop/sys_error.h"

namespace loop {
namespace testing {

std::string Command(std::initializer_list<std::string_view> words) {
  std::string out = "*" + std::to_string(words.size()) + "\r\n";
  for (std::string_view w : words) {
    out += "$" + std::to_string(w.size()) + "\r\n";
    out.append(w);
    out += "\r\n";
  }
  return out;
}

namespace {

// Length of the reply at `pos`, 0 if incomplete, -1 if not RESP.
long ReplyAt(std::string_view b, std::size_t pos, int depth) {
  if (depth > 64) return -1;
  if (pos >= b.size()) return 0;
  const std::size_t nl = b.find("\r\n", pos);
  if (nl == std::string_view::npos) return 0;
  const char type = b[pos];
  const std::string line(b.substr(pos + 1, nl - pos - 1));
  const std::size_t after = nl + 2;
  if (type == '+' || type == '-' || type == ':') {
    return static_cast<long>(after - pos);
  }
  if (type != '$' && type != '*') return -1;
  char* end = nullptr;
  const long n = std::strtol(line.c_str(), &end, 10);
  if (line.empty() || *end != '\0' || n < -1) return -1;
  if (n == -1) return static_cast<long>(after - pos);
  if (type == '$') {
    const std::size_t total = after + static_cast<std::size_t>(n) + 2;
    if (b.size() < total) return 0;
    return static_cast<long>(total - pos);
  }
  std::size_t at = after;
  for (long i = 0; i < n; ++i) {
    const long len = ReplyAt(b, at, depth + 1);
    if (len <= 0) return len;
    at += static_cast<std::size_t>(len);
  }
  return static_cast<long>(at - pos);
}

}  // namespace

long ReplyLength(std::string_view bytes) { return ReplyAt(bytes, 0, 0); }

RespClient RespClient::Connect(int port, GiveUp give_up) {
  RespClient c = Open(std::move(give_up));
  c.ConnectTo(port);
  return c;
}

RespClient RespClient::Open(GiveUp give_up) {
  Fd fd(static_cast<int>(CheckSys(
      socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket(client)")));
  return RespClient(std::move(fd), std::move(give_up));
}

void RespClient::ConnectTo(int port) {
  sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CheckSys(connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr),
           "connect(127.0.0.1:" + std::to_string(port) + ")");
  const int one = 1;
  CheckSys(setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one),
           "setsockopt(client, TCP_NODELAY)");
  SetNonBlocking(fd_.get());  // every wait is a poll() with a deadline
}

RespClient RespClient::ConnectUnix(const std::string& path) {
  Fd fd(static_cast<int>(CheckSys(
      socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket(AF_UNIX)")));
  sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    throw SysError("connect(" + path + "): the path is too long", ENAMETOOLONG);
  }
  memcpy(addr.sun_path, path.data(), path.size());
  CheckSys(connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr),
           "connect(" + path + ")");
  SetNonBlocking(fd.get());
  return RespClient(std::move(fd), nullptr);
}

std::string RespClient::WaitFor(short events, Clock::time_point until) {
  for (;;) {
    if (give_up_) {
      const std::string why = give_up_();
      if (!why.empty()) return "!gave up: " + why;
    }
    const auto left =
        std::chrono::duration_cast<milliseconds>(until - Clock::now());
    if (left.count() <= 0) return "!timeout";
    pollfd p{fd_.get(), events, 0};
    const int n =
        poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 20)));
    if (n > 0) return "";
    if (n < 0 && errno != EINTR) {
      return std::string("!poll failed: ") + ErrnoName(errno);
    }
  }
}

bool RespClient::Send(std::string_view bytes, milliseconds deadline,
                      std::string* error) {
  const Clock::time_point until = Clock::now() + deadline;
  std::string local;
  std::string& why = error != nullptr ? *error : local;
  while (!bytes.empty()) {
    const ssize_t n = send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      why = std::string("send failed: ") + ErrnoName(errno);
      return false;
    }
    why = WaitFor(POLLOUT, until);
    if (!why.empty()) {
      why += " while sending, " + std::to_string(bytes.size()) +
             " bytes still unsent";
      return false;
    }
  }
  return true;
}

std::string RespClient::Reply(milliseconds deadline) {
  const Clock::time_point until = Clock::now() + deadline;
  char chunk[65536];
  for (;;) {
    const long len = ReplyLength(buffered_);
    if (len < 0) return "!not RESP: " + buffered_.substr(0, 200);
    if (len > 0) {
      std::string reply = buffered_.substr(0, static_cast<std::size_t>(len));
      buffered_.erase(0, static_cast<std::size_t>(len));
      return reply;
    }
    const ssize_t n = read(fd_.get(), chunk, sizeof chunk);
    if (n > 0) {
      buffered_.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      return "!closed by the server, after " +
             std::to_string(buffered_.size()) + " bytes of an unfinished reply";
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return std::string("!read failed: ") + ErrnoName(errno);
    }
    const std::string why = WaitFor(POLLIN, until);
    if (!why.empty()) {
      return why + " waiting for a reply (" + std::to_string(buffered_.size()) +
             " bytes of one so far)";
    }
  }
}

std::string RespClient::Ask(std::string_view request, milliseconds deadline) {
  std::string error;
  if (!Send(request, deadline, &error)) {
    return error.rfind("!", 0) == 0 ? error : "!" + error;
  }
  return Reply(deadline);
}

bool RespClient::ClosedWithin(milliseconds deadline, std::string* extra) {
  const Clock::time_point until = Clock::now() + deadline;
  if (extra != nullptr) *extra = buffered_;
  buffered_.clear();
  char chunk[65536];
  for (;;) {
    const ssize_t n = read(fd_.get(), chunk, sizeof chunk);
    if (n == 0) return true;
    if (n > 0) {
      if (extra != nullptr && extra->size() < 4096) {
        extra->append(chunk, static_cast<std::size_t>(n));
      }
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return true;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    if (!WaitFor(POLLIN, until).empty()) return false;
  }
}

bool RespClient::HasDataNow() {
  if (!buffered_.empty()) return true;
  pollfd p{fd_.get(), POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

void RespClient::ShutdownWrite() {
  CheckSys(shutdown(fd_.get(), SHUT_WR), "shutdown(client, SHUT_WR)");
}

void RespClient::Reset() {
  const linger l{1, 0};
  CheckSys(setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l),
           "setsockopt(client, SO_LINGER 0)");
  fd_.reset();
}

}  // namespace testing
}  // namespace loop
