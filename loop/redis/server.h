// A small Redis-compatible server on lesson 11's EventLoop: the capstone.
//
//   Server server(options);      // binds and listens; port() says the port
//   server.Run();                // serves until Stop() (or SIGINT/SIGTERM
//                                // with options.stop_on_signals)
//
// One loop thread does all the network work: it accepts, reads, parses,
// executes and writes. The one slow command (DEBUG SLEEP) runs on the loop's
// worker pool through Offload, and its reply comes back to the loop thread.
//
// You write four functions in server.cc (see README.md):
//   AcceptClients  accept until EAGAIN; survive running out of descriptors
//   ReadFrom       one read per event (a full one: again on a later turn);
//                  the end of the stream; errors
//   Process        parse and execute every whole request that is buffered
//   Flush          write until EAGAIN; write interest only while output waits
// server_loop.cc has the rest: the listening socket, adding and closing
// connections, idle timeouts, the connection limit, the slow command's trip
// to a worker and back, and shutdown.
//
// Ownership: the Server owns the EventLoop, the listening socket and every
// Connection (each owns its socket). A connection is closed by Close(), which
// unwatches and closes its socket at once and destroys the Connection at the
// end of the current callback, so a Connection& stays valid until the function
// that holds it returns; check `closed` after calling anything that may close.
//
// Threads: Run() and everything it calls are on the loop thread. Stop(),
// port() and stats() may be called from any thread.
#ifndef LOOP_REDIS_SERVER_H_
#define LOOP_REDIS_SERVER_H_

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "loop/event_loop.h"
#include "loop/fd.h"
#include "loop/redis/commands.h"
#include "loop/redis/resp.h"
#include "loop/sys_error.h"

namespace loop {

struct ServerOptions {
  Backend backend = DefaultBackend();
  std::string host = "127.0.0.1";   // an IPv4 address
  int port = 0;                     // 0: the kernel picks one; see port()
  int backlog = 511;                // listen(2)'s queue, as Redis's default
  std::size_t max_clients = 10000;  // more are told so and closed
  // A client that sends nothing for this long is closed; 0: never (Redis's
  // `timeout 0`). A client waiting for a slow reply is not idle.
  std::chrono::milliseconds idle_timeout{0};
  resp::Limits limits;
  // Unparsed input a connection may hold (an unfinished request); past it
  // the client gets an error and is closed. Redis: 1 GiB.
  std::size_t max_query_bytes = std::size_t{256} << 20;
  // While this much of a connection's output is unsent, the server stops
  // executing (and reading) that connection's requests: a client that does
  // not read its replies cannot make the server's memory grow without bound.
  std::size_t output_high_water = std::size_t{8} << 20;
  int workers = 2;               // the pool that runs slow commands
  bool stop_on_signals = false;  // SIGINT/SIGTERM stop Run()
  // At shutdown, how long to wait for slow replies to come back and for
  // output to be written before closing what is left.
  std::chrono::milliseconds shutdown_grace{5000};
  bool verbose = false;  // say on stderr why each connection closed
};

// How much ReadFrom asks read(2) for at a time.
// One read(2) takes at most this much (Redis's PROTO_IOBUF_LEN): a client
// gets one read per turn of the loop, so the rest of the room waits at most
// this much work for it.
constexpr std::size_t kReadChunk = std::size_t{16} << 10;

// The flags for send(2) that turn a write to a closed connection into EPIPE
// instead of a SIGPIPE that kills the process. (macOS has no MSG_NOSIGNAL;
// AddConnection sets SO_NOSIGPIPE on the socket there instead.)
#ifdef MSG_NOSIGNAL
constexpr int kSendNoSignal = MSG_NOSIGNAL;
#else
constexpr int kSendNoSignal = 0;
#endif

// A read buffer: bytes are appended at the back and consumed from the front
// without moving the rest each time.
// A connection's unparsed input: only the bytes of requests not yet whole.
// Reads go to the server's one read buffer first (Server::read_buffer()), so
// an idle connection holds no room for a read it is not doing; the storage
// grows with an unfinished request and is given back once it is consumed.
class InputBuffer {
 public:
  std::string_view view() const {
    return std::string_view(buf_.data() + start_, buf_.size() - start_);
  }
  std::size_t size() const { return buf_.size() - start_; }
  bool empty() const { return size() == 0; }
  void Append(const char* bytes, std::size_t n);
  void Consume(std::size_t n);  // drops n bytes from the front
  void Clear();
  std::size_t capacity() const { return buf_.capacity(); }

 private:
  std::string buf_;  // only [start_, end) holds data
  std::size_t start_ = 0;
};

class OutputBuffer {
 public:
  std::string* append_to() { return &data_; }  // resp::Append*(append_to())
  const char* data() const { return data_.data() + sent_; }
  std::size_t pending() const { return data_.size() - sent_; }
  void Consume(std::size_t n);

 private:
  std::string data_;
  std::size_t sent_ = 0;
};

struct Connection {
  std::uint64_t id = 0;  // never reused; a late slow reply finds it by id
  Fd fd;
  InputBuffer in;                  // read, not yet parsed
  resp::RequestParser parser;      // how far into `in` the next request is
  OutputBuffer out;                // replies not yet written
  bool want_write = false;         // kWritable is in its interest right now
  bool busy = false;               // a slow command runs; later requests wait
  bool stalled = false;            // ReadFrom stopped because of Paused()
  bool peer_closed = false;        // an event said the peer closed: read on
                                   // until read(2) says EOF
  bool read_closed = false;        // the peer sent its last byte (EOF)
  bool close_after_flush = false;  // QUIT, a protocol error, EOF: close once
                                   // `out` is written
  bool closed = false;             // Close() ran: the socket is gone
  Clock::time_point last_active;   // for the idle timeout
  TimerId idle_timer;
};

struct ServerStats {
  std::uint64_t accepted = 0;  // connections served (limit refusals excluded)
  std::uint64_t rejected = 0;  // accepted but over max_clients: told, closed
  std::uint64_t shed = 0;      // dropped because the process had no fd left
  std::uint64_t closed = 0;    // connections closed, for whatever reason
  std::uint64_t idle_closed = 0;  // of those, by the idle timeout
  std::uint64_t commands = 0;     // requests executed
  std::size_t open = 0;           // connections open now
  // Client events that found nothing to do: no byte to read, no EOF, no
  // error, and no output waiting. Asking for writability while nothing waits
  // makes these (on this edge-triggered loop, one per reply, roughly).
  std::uint64_t idle_events = 0;
  // Bytes the RESP parsers of closed connections looked at: linear in the
  // bytes they received, however the requests were split.
  std::uint64_t parse_bytes_scanned = 0;
};

class Server {
 public:
  explicit Server(ServerOptions options);  // binds, listens; throws SysError
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves until Stop() or a signal, then shuts down: stops accepting, drops
  // unparsed input, lets running slow commands finish (DEBUG SLEEP is cut
  // short), writes every reply, closes every connection and returns. Once.
  void Run();
  void Stop();                        // any thread
  int port() const { return port_; }  // any thread
  ServerStats stats() const;          // any thread
  // The signal that stopped Run() (the first one, if a second cut the
  // shutdown short), or 0. Call after Run() returned.
  int stopped_by_signal() const { return stopped_by_signal_; }

 private:
  // --- Lesson 12: you write these (server.cc) ---
  void AcceptClients();
  void ReadFrom(Connection& c);
  void Process(Connection& c);
  void Flush(Connection& c);

  // --- Given (server_loop.cc) ---
  // Takes a new client's socket (nonblocking, close-on-exec): watches it, or
  // refuses it past max_clients.
  void AddConnection(Fd fd);
  // Out of descriptors: frees the reserve fd, accepts one pending connection
  // and closes it at once, then takes the reserve back. False if accepting
  // must pause (it retries by itself on a timer).
  bool ShedOneConnection();
  // accept4 failed for a reason that may pass (ENOBUFS, ENOMEM, ...): says
  // so on stderr and tries again in 100 ms.
  void PauseAccepting(const SysError& error);
  // Executes one request: its reply goes to c.out, or, for the slow command,
  // c.busy is set until the reply comes back from a worker.
  void Execute(Connection& c, const std::vector<std::string>& args);
  // True while the connection must not execute (or read) more requests: a
  // slow command is running, or output_high_water bytes are unsent.
  bool Paused(const Connection& c) const;
  // Paused() has turned false for a connection that stalled: goes on with its
  // buffered requests and its socket, on a later turn of the loop.
  void Resume(Connection& c);
  // ReadFrom stopped with bytes maybe still in the socket (its read filled the
  // whole buffer): reads on, on a later turn, since the kernel will not report
  // the socket again for bytes that are already there.
  void ReadAgainLater(Connection& c);
  // The buffer every read(2) goes to, kReadChunk bytes, before its bytes are
  // appended to the connection's `in`.
  char* read_buffer() { return read_buffer_.get(); }
  // Unwatches and closes c's socket now; the Connection is destroyed at the
  // end of the current callback. `why` (or nullptr) goes to the log.
  void Close(Connection& c, const char* why);
  void OnClientEvent(std::uint64_t id, const Event& event);
  void OnIdleTimer(std::uint64_t id);
  void ArmIdleTimer(Connection& c, Clock::duration after);
  void ReapClosed();
  void StartShutdown();
  void FinishShutdownIfDone();
  Connection* Find(std::uint64_t id);

  const ServerOptions options_;
  EventLoop loop_;
  Fd listener_;
  Fd reserve_fd_;  // /dev/null, closed to make room when accept says EMFILE
  int port_ = 0;
  bool accepting_ = true;
  bool shutting_down_ = false;
  bool ran_ = false;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> graveyard_;  // closed, to destroy
  std::vector<std::string> args_;  // Process's scratch: one request's words
  std::unique_ptr<char[]> read_buffer_ =
      std::make_unique<char[]>(kReadChunk);  // see read_buffer()
  int stopped_by_signal_ = 0;
  Store store_;
  std::shared_ptr<SleepCanceller> canceller_ =
      std::make_shared<SleepCanceller>();
  std::size_t slow_in_flight_ = 0;

  struct AtomicStats {
    std::atomic<std::uint64_t> accepted{0}, rejected{0}, shed{0}, closed{0},
        idle_closed{0}, commands{0}, idle_events{0}, parse_bytes_scanned{0};
    std::atomic<std::size_t> open{0};
  };
  AtomicStats stats_;
};

}  // namespace loop

#endif  // LOOP_REDIS_SERVER_H_
