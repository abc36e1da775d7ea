// Lesson 12, the reference solution: the event-loop side of the server.
#include "loop/redis/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "loop/sys_error.h"

namespace loop {

// 1. Accept every pending connection. The listener is edge-triggered: one
// event may stand for many clients, and there is no second event for the ones
// left in the queue.
void Server::AcceptClients() {
  for (;;) {
    const int fd = accept4(listener_.get(), nullptr, nullptr,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      AddConnection(Fd(fd));
      continue;
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return;    // the queue is empty
    if (err == EINTR || err == ECONNABORTED) continue;  // try the next one
    if (err == EMFILE || err == ENFILE) {
      // The client stays in the queue, so returning would leave it there
      // for good (no new edge), and retrying at once would spin.
      if (ShedOneConnection()) continue;
      return;
    }
    PauseAccepting(SysError("accept4(listener)", err));
    return;
  }
}

// 2. Read until EAGAIN, executing what arrives as it arrives.
void Server::ReadFrom(Connection& c) {
  while (!c.closed && !c.read_closed) {
    if (Paused(c)) {
      c.stalled = true;  // Resume() reads on when the pause ends
      return;
    }
    char* room = c.in.Prepare(kReadChunk);
    const ssize_t n = read(c.fd.get(), room, kReadChunk);
    if (n > 0) {
      c.in.Commit(static_cast<std::size_t>(n));
      Process(c);
      continue;
    }
    c.in.Commit(0);
    if (n == 0) {  // the client will send nothing more: answer, then close
      c.read_closed = true;
      Process(c);
      return;
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return;
    if (err == EINTR) continue;
    Close(c, ErrnoName(err));  // ECONNRESET and friends: this client only
    return;
  }
}

// 3. Execute every whole request in the buffer, in order, then write.
void Server::Process(Connection& c) {
  while (!c.closed && !c.close_after_flush) {
    if (Paused(c)) {
      c.stalled = true;  // Flush calls Resume() when the pause ends
      break;
    }
    const resp::ParseResult r =
        c.parser.Parse(c.in.view(), options_.limits, &args_);
    if (r.status == resp::ParseStatus::kIncomplete) {
      if (c.in.size() > options_.max_query_bytes) {
        resp::AppendError(c.out.append_to(), "ERR query buffer limit reached");
        c.in.Clear();
        c.close_after_flush = true;
      } else if (c.read_closed) {
        c.close_after_flush = true;  // the rest of it will never come
      }
      break;
    }
    if (r.status == resp::ParseStatus::kError) {
      resp::AppendError(c.out.append_to(), r.error);
      c.in.Clear();
      c.close_after_flush = true;  // as Redis does: the stream is lost
      break;
    }
    c.in.Consume(r.consumed);
    Execute(c, args_);
  }
  Flush(c);
}

// 4. Write until the output is empty or the socket is full. Ask for
// writability only while output waits: a socket is writable nearly always, and
// asking for it all the time would wake the loop for nothing.
void Server::Flush(Connection& c) {
  while (!c.closed && c.out.pending() > 0) {
    const ssize_t n =
        send(c.fd.get(), c.out.data(), c.out.pending(), kSendNoSignal);
    if (n >= 0) {
      c.out.Consume(static_cast<std::size_t>(n));
      continue;
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) break;
    if (err == EINTR) continue;
    Close(c, ErrnoName(err));  // EPIPE, ECONNRESET: the client is gone
    return;
  }
  if (c.closed) return;
  const bool want_write = c.out.pending() > 0;
  if (want_write != c.want_write) {
    loop_.Rewatch(c.fd.get(), want_write
                                  ? Interest::kReadable | Interest::kWritable
                                  : Interest::kReadable);
    c.want_write = want_write;
  }
  if (!want_write && c.close_after_flush) {
    Close(c, nullptr);
    return;
  }
  if (c.stalled && !Paused(c)) Resume(c);
}

}  // namespace loop
