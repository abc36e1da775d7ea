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

// 2. Read what has arrived, once, and execute it. Edge-triggered: the kernel
// reports this socket again only when new bytes arrive. A read that fills the
// whole buffer may have left more in the socket, so come back for it on a
// later turn (one read per turn keeps one busy client from holding the loop);
// a short read took everything there was, so there is nothing to wait for, and
// no read that can only say EAGAIN. Once an event said the peer closed, read
// on until read(2) says so too.
void Server::ReadFrom(Connection& c) {
  for (;;) {
    if (c.closed || c.read_closed) return;
    if (Paused(c)) {
      c.stalled = true;  // Resume() reads on when the pause ends
      return;
    }
    const ssize_t n = read(c.fd.get(), read_buffer(), kReadChunk);
    if (n > 0) {
      c.in.Append(read_buffer(), static_cast<std::size_t>(n));
      Process(c);
      if (static_cast<std::size_t>(n) == kReadChunk) {
        ReadAgainLater(c);  // maybe more: on a later turn, after the others
        return;
      }
      if (!c.peer_closed) return;  // the socket is empty: wait for an event
      continue;                    // read on to the end of the stream
    }
    if (n == 0) {  // the client will send nothing more: answer, then close
      c.read_closed = true;
      Process(c);
      return;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) return;
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
