// The command table. Given: lesson 12 is about the event-loop side.
//
// Execute() runs one request against the Store and appends its RESP reply to
// *out, in Redis's words ("-ERR wrong number of arguments for 'get' command").
// The commands:
//
//   PING [message]   ECHO message   SET key value   GET key   DEL key...
//   EXISTS key...    INCR key       DBSIZE          FLUSHALL  FLUSHDB
//   SELECT 0         QUIT           COMMAND ...     CONFIG GET parameter
//   DEBUG SLEEP seconds              (the slow one: see below)
//
// COMMAND and CONFIG GET answer just enough for redis-cli and redis-benchmark,
// which send them when they start: COMMAND says "*0" (no command docs), and
// CONFIG GET knows "save" ("") and "appendonly" ("no").
//
// One command is slow on purpose. DEBUG SLEEP s does not reply at once: it
// returns Outcome{kOffload, work}, and the server runs `work` on a worker
// thread; work() sleeps s seconds (at most 60) and returns the reply's bytes.
// That is the pattern lesson 11 built, end to end: the loop thread keeps
// serving every other client while one client's request runs elsewhere. A
// shutdown cuts the sleep short (SleepCanceller::CancelAll) and the reply
// says so.
//
// Threads: Execute and Store belong to the loop thread. An Outcome's work()
// touches only what it captured, and SleepCanceller is thread-safe.
#ifndef LOOP_REDIS_COMMANDS_H_
#define LOOP_REDIS_COMMANDS_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace loop {

// The keyspace: one map, loop thread only.
struct Store {
  std::unordered_map<std::string, std::string> values;
};

// Lets a shutdown wake every sleeping DEBUG SLEEP at once. Thread-safe.
class SleepCanceller {
 public:
  // Sleeps for `duration`; false if CancelAll() cut it short.
  bool SleepFor(std::chrono::milliseconds duration);
  // Wakes every SleepFor now and makes every later one return false at once.
  void CancelAll();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;  // guarded by mu_
};

struct Outcome {
  enum After {
    kContinue,  // the reply is in *out; go on with the next request
    kClose,     // the reply is in *out; send it, then close (QUIT)
    kOffload,   // no reply yet: run work() on a worker; its string is the
                // reply. The connection's later requests wait until then.
  };
  After after = kContinue;
  std::function<std::string()> work;  // kOffload only
};

Outcome Execute(const std::vector<std::string>& args, Store& store,
                const std::shared_ptr<SleepCanceller>& canceller,
                std::string* out);

}  // namespace loop

#endif  // LOOP_REDIS_COMMANDS_H_
