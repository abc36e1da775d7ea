// Given: the half of the server that is not lesson 12 (see server.h).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "loop/redis/server.h"
#include "loop/sys_error.h"

namespace loop {

// --- Buffers
// ------------------------------------------------------------------

namespace {
// Storage a buffer keeps once it is empty again: enough for the next short
// request or reply, little for a connection that sits idle.
constexpr std::size_t kKeepCapacity = std::size_t{4} << 10;
}  // namespace

void InputBuffer::Append(const char* bytes, std::size_t n) {
  if (start_ > 0 && start_ >= buf_.size() / 2) {  // drop the consumed front
    buf_.erase(0, start_);
    start_ = 0;
  }
  buf_.append(bytes, n);
}

void InputBuffer::Consume(std::size_t n) {
  if (n > size()) throw std::logic_error("InputBuffer::Consume past the end");
  start_ += n;
  if (start_ == buf_.size()) Clear();
}

void InputBuffer::Clear() {
  start_ = 0;
  buf_.clear();
  if (buf_.capacity() > kKeepCapacity) std::string().swap(buf_);
}

void OutputBuffer::Consume(std::size_t n) {
  if (n > pending())
    throw std::logic_error("OutputBuffer::Consume past the end");
  sent_ += n;
  if (sent_ == data_.size()) {
    sent_ = 0;
    data_.clear();
    if (data_.capacity() > kKeepCapacity) std::string().swap(data_);
  } else if (sent_ > kKeepCapacity && sent_ > data_.size() / 2) {
    data_.erase(0, sent_);
    sent_ = 0;
  }
}

// --- Setup
// --------------------------------------------------------------------

namespace {

Fd OpenReserve() {
  return Fd(
      static_cast<int>(CheckSys(open("/dev/null", O_RDONLY | O_CLOEXEC),
                                "open(/dev/null) for the reserve descriptor")));
}

Fd Listen(const ServerOptions& o) {
  if (o.port < 0 || o.port > 65535) {
    throw std::invalid_argument("ServerOptions::port must be 0..65535, not " +
                                std::to_string(o.port));
  }
  sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(o.port));
  if (inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr) != 1) {
    throw std::invalid_argument(
        "ServerOptions::host must be an IPv4 address "
        "like 127.0.0.1, not '" +
        o.host + "'");
  }
  const std::string where = o.host + ":" + std::to_string(o.port);
  Fd fd(static_cast<int>(CheckSys(socket(AF_INET, SOCK_STREAM, 0),
                                  "socket(AF_INET, SOCK_STREAM)")));
  CheckSys(fcntl(fd.get(), F_SETFD, FD_CLOEXEC), "fcntl(listener, FD_CLOEXEC)");
  SetNonBlocking(fd.get());
  const int one = 1;
  CheckSys(setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one),
           "setsockopt(SO_REUSEADDR)");
  CheckSys(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr),
           "bind(" + where + ")");
  CheckSys(listen(fd.get(), o.backlog), "listen(" + where + ")");
  return fd;
}

EventLoop::Options LoopOptions(const ServerOptions& o) {
  EventLoop::Options lo;
  lo.backend = o.backend;
  lo.workers = o.workers;
  return lo;
}

}  // namespace

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      loop_(LoopOptions(options_)),
      listener_(Listen(options_)),
      reserve_fd_(OpenReserve()) {
  sockaddr_in addr;
  socklen_t len = sizeof addr;
  CheckSys(
      getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len),
      "getsockname(listener)");
  port_ = ntohs(addr.sin_port);
  loop_.Watch(listener_.get(), Interest::kReadable, [this](const Event&) {
    if (accepting_) AcceptClients();
    ReapClosed();
  });
}

Server::~Server() {
  // The loop (destroyed after the connections, being declared first) drops
  // any slow reply that is still on its way.
  for (auto& entry : connections_) entry.second->closed = true;
}

ServerStats Server::stats() const {
  ServerStats s;
  s.accepted = stats_.accepted.load();
  s.rejected = stats_.rejected.load();
  s.shed = stats_.shed.load();
  s.closed = stats_.closed.load();
  s.idle_closed = stats_.idle_closed.load();
  s.commands = stats_.commands.load();
  s.idle_events = stats_.idle_events.load();
  s.parse_bytes_scanned = stats_.parse_bytes_scanned.load();
  s.open = stats_.open.load();
  return s;
}

void Server::Stop() { loop_.Stop(); }

// --- Connections
// --------------------------------------------------------------

Connection* Server::Find(std::uint64_t id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

void Server::AddConnection(Fd fd) {
  if (connections_.size() >= options_.max_clients) {
    // Redis's words. A new socket's send buffer is empty, so this write
    // goes through unless the client has already reset the connection, and
    // then there is nobody to tell.
    static const char kFull[] = "-ERR max number of clients reached\r\n";
    (void)send(fd.get(), kFull, sizeof kFull - 1, kSendNoSignal);
    ++stats_.rejected;
    return;  // fd closes here
  }
  const int one = 1;
  CheckSys(setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one),
           "setsockopt(TCP_NODELAY)");
#ifdef SO_NOSIGPIPE
  CheckSys(setsockopt(fd.get(), SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one),
           "setsockopt(SO_NOSIGPIPE)");
#endif
  auto c = std::make_unique<Connection>();
  c->id = next_id_++;
  c->fd = std::move(fd);
  c->last_active = Clock::now();
  const std::uint64_t id = c->id;
  // Data the client sent before accept() is reported at once: registering a
  // ready socket reports it, on both backends.
  loop_.Watch(c->fd.get(), Interest::kReadable,
              [this, id](const Event& event) { OnClientEvent(id, event); });
  Connection& added = *c;
  connections_.emplace(id, std::move(c));
  ++stats_.accepted;
  ++stats_.open;
  if (options_.idle_timeout.count() > 0) {
    ArmIdleTimer(added, options_.idle_timeout);
  }
}

void Server::OnClientEvent(std::uint64_t id, const Event& event) {
  Connection* c = Find(id);
  if (c == nullptr) return;
  c->last_active = Clock::now();
  const bool input =
      event.is_readable() || event.is_read_closed() || event.is_error();
  if (!input && c->out.pending() == 0) ++stats_.idle_events;
  if (event.is_read_closed() || event.is_error()) c->peer_closed = true;
  if (input) ReadFrom(*c);
  if (!c->closed && event.is_writable()) Flush(*c);
  ReapClosed();
}

void Server::Close(Connection& c, const char* why) {
  if (c.closed) return;
  c.closed = true;
  if (c.idle_timer.value != 0) loop_.Cancel(c.idle_timer);
  loop_.Unwatch(c.fd.get());
  c.fd.reset();  // Fd reports a failed close() on stderr
  if (why != nullptr && options_.verbose) {
    std::fprintf(stderr, "server: closed client %llu: %s\n",
                 static_cast<unsigned long long>(c.id), why);
  }
  ++stats_.closed;
  --stats_.open;
  stats_.parse_bytes_scanned += c.parser.bytes_scanned();
  auto it = connections_.find(c.id);
  graveyard_.push_back(std::move(it->second));  // c stays valid until Reap
  connections_.erase(it);
}

void Server::ReapClosed() {
  graveyard_.clear();
  FinishShutdownIfDone();
}

// --- Accepting when out of descriptors ---------------------------------------

bool Server::ShedOneConnection() {
  reserve_fd_.reset();  // one descriptor free now
  const int fd =
      accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  const int accept_errno = errno;
  if (fd >= 0) {
    close(fd);  // the client sees the connection closed at once
    ++stats_.shed;
    std::fprintf(stderr,
                 "server: out of file descriptors: closed an incoming "
                 "connection (%llu so far)\n",
                 static_cast<unsigned long long>(stats_.shed.load()));
  }
  const int reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (reserve < 0) {
    PauseAccepting(
        SysError("open(/dev/null) for the reserve descriptor", errno));
    return false;
  }
  reserve_fd_.reset(reserve);
  if (fd >= 0) return true;  // go on accepting
  if (accept_errno == EAGAIN || accept_errno == EWOULDBLOCK) return false;
  PauseAccepting(
      SysError("accept4(listener) with the reserve freed", accept_errno));
  return false;
}

void Server::PauseAccepting(const SysError& error) {
  std::fprintf(stderr, "server: %s; accepting again in 100 ms\n", error.what());
  accepting_ = false;
  loop_.RunAfter(std::chrono::milliseconds(100), [this] {
    if (shutting_down_) return;
    accepting_ = true;
    if (!reserve_fd_) {
      const int reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (reserve >= 0) reserve_fd_.reset(reserve);
    }
    AcceptClients();
    ReapClosed();
  });
}

// --- Requests
// -----------------------------------------------------------------

bool Server::Paused(const Connection& c) const {
  return c.busy || c.out.pending() >= options_.output_high_water;
}

void Server::Execute(Connection& c, const std::vector<std::string>& args) {
  ++stats_.commands;
  Outcome outcome = loop::Execute(args, store_, canceller_, c.out.append_to());
  if (outcome.after == Outcome::kClose) {
    c.close_after_flush = true;
  } else if (outcome.after == Outcome::kOffload) {
    // Lesson 11's pattern: the work runs on a worker; done runs here, on the
    // loop thread, brought back by Post and the Waker. The connection's later
    // requests wait (Paused), so replies stay in order.
    c.busy = true;
    ++slow_in_flight_;
    const std::uint64_t id = c.id;
    loop_.Offload(std::move(outcome.work),
                  [this, id](const Result<std::string>& reply) {
                    --slow_in_flight_;
                    Connection* back = Find(id);
                    if (back != nullptr) {  // else: closed meanwhile
                      back->busy = false;
                      if (reply.ok()) {
                        back->out.append_to()->append(reply.value());
                      } else {
                        resp::AppendError(back->out.append_to(),
                                          "ERR the slow command failed");
                      }
                      back->last_active = Clock::now();
                      if (shutting_down_) back->close_after_flush = true;
                      Flush(*back);  // and Flush resumes the connection
                    }
                    ReapClosed();
                  });
  }
}

void Server::Resume(Connection& c) {
  // On a later turn, not here: Flush calls this, and Process calls Flush, so
  // going on at once would nest deeper with every pause. Requests already
  // buffered go first, then the socket, which may hold more that ReadFrom
  // left when it stopped.
  c.stalled = false;
  const std::uint64_t id = c.id;
  loop_.Post([this, id] {
    Connection* again = Find(id);
    if (again == nullptr) return;
    Process(*again);
    if (!again->closed) ReadFrom(*again);
    ReapClosed();
  });
}

void Server::ReadAgainLater(Connection& c) {
  const std::uint64_t id = c.id;
  loop_.Post([this, id] {
    Connection* again = Find(id);
    if (again == nullptr) return;
    ReadFrom(*again);
    ReapClosed();
  });
}

// --- Idle clients
// -------------------------------------------------------------

void Server::ArmIdleTimer(Connection& c, Clock::duration after) {
  const std::uint64_t id = c.id;
  c.idle_timer = loop_.RunAfter(after, [this, id] { OnIdleTimer(id); });
}

void Server::OnIdleTimer(std::uint64_t id) {
  Connection* c = Find(id);
  if (c == nullptr) return;
  c->idle_timer = TimerId{};
  // One timer per connection, set again only when it fires: a busy client
  // costs no timer work per request.
  const Clock::duration quiet = Clock::now() - c->last_active;
  if (c->busy) {
    ArmIdleTimer(*c, options_.idle_timeout);
  } else if (quiet >= options_.idle_timeout) {
    ++stats_.idle_closed;
    Close(*c, "idle timeout");
  } else {
    ArmIdleTimer(*c, options_.idle_timeout - quiet);
  }
  ReapClosed();
}

// --- Run and shutdown
// -----------------------------------------------------------

void Server::Run() {
  if (ran_) throw std::logic_error("Server::Run: a Server runs once");
  ran_ = true;
  if (options_.stop_on_signals) loop_.StopOnSignals();
  loop_.Run();  // until Stop() or a signal
  stopped_by_signal_ = loop_.stopped_by_signal();
  StartShutdown();
  if (!connections_.empty() || slow_in_flight_ > 0) {
    // Until every reply is written and every slow command is back, or the
    // grace period ends, or Stop()/a signal comes again.
    loop_.RunAfter(options_.shutdown_grace, [this] { loop_.Stop(); });
    loop_.Run();
    if (stopped_by_signal_ == 0) stopped_by_signal_ = loop_.stopped_by_signal();
  }
  while (!connections_.empty()) {
    Close(*connections_.begin()->second, "shutdown: grace period over");
  }
  graveyard_.clear();
  if (options_.stop_on_signals) loop_.RestoreSignals();
}

void Server::StartShutdown() {
  shutting_down_ = true;
  accepting_ = false;
  loop_.Unwatch(listener_.get());
  listener_.reset();        // new clients are refused from now on
  canceller_->CancelAll();  // DEBUG SLEEPs end now, replying so
  std::vector<std::uint64_t> ids;
  for (auto& entry : connections_) ids.push_back(entry.first);
  for (std::uint64_t id : ids) {
    Connection* c = Find(id);
    if (c == nullptr) continue;
    // Requests not yet executed are dropped; replies already made are sent.
    c->in.Clear();
    c->read_closed = true;
    c->stalled = false;
    if (!c->busy) c->close_after_flush = true;  // else: after its slow reply
    Flush(*c);
  }
  graveyard_.clear();
}

void Server::FinishShutdownIfDone() {
  if (shutting_down_ && connections_.empty() && slow_in_flight_ == 0) {
    loop_.Stop();
  }
}

}  // namespace loop
