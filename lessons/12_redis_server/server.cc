// Lesson 12: the event-loop side of a Redis-compatible server. You write the
// four functions below; README.md walks through them one at a time.
#include "loop/redis/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "lessons/todo.h"
#include "loop/sys_error.h"

namespace loop {

// 1. Accept every pending connection (the listener is edge-triggered).
void Server::AcceptClients() {
  LOOP_TODO("12", "12_redis_server",
            "Server::AcceptClients: accept4(listener_, SOCK_NONBLOCK | "
            "SOCK_CLOEXEC) until EAGAIN, AddConnection(Fd(fd)) for each");
}

// 2. Read what has arrived, once per event, and execute it; come back on a
// later turn if the read may have left more (the socket is edge-triggered).
void Server::ReadFrom(Connection& c) {
  (void)c;
  LOOP_TODO("12", "12_redis_server",
            "Server::ReadFrom: one read(2) of kReadChunk into read_buffer(), "
            "c.in.Append, Process(c); a full read: ReadAgainLater(c)");
}

// 3. Execute every whole request in the buffer, in order, then write.
void Server::Process(Connection& c) {
  (void)c;
  LOOP_TODO("12", "12_redis_server",
            "Server::Process: c.parser.Parse each whole request in c.in, "
            "Consume it, Execute(c, args_), then Flush(c)");
}

// 4. Write until the output is empty or the socket is full; ask for
// writability only while output waits.
void Server::Flush(Connection& c) {
  (void)c;
  LOOP_TODO("12", "12_redis_server",
            "Server::Flush: send(2) c.out until empty or EAGAIN, then "
            "loop_.Rewatch for kWritable only while c.out.pending() > 0");
}

}  // namespace loop
