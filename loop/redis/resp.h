// RESP2, the Redis protocol: the part a server needs. Given: lesson 12 is
// about the event-loop side, so you read this file but do not edit it.
//
// A request is either an array of bulk strings, which is what every client
// library sends:
//
//   *2\r\n$3\r\nGET\r\n$3\r\nkey\r\n          -> {"GET", "key"}
//
// or an inline command, one line split at spaces, which is what you type into
// `nc` and what redis-benchmark's PING_INLINE sends:
//
//   PING\r\n                                  -> {"PING"}
//
// ParseCommand reads one request from the front of a buffer and says how many
// bytes it used. It never reads past the buffer, copies nothing until a whole
// request is there, and refuses a length over the limits as soon as it reads
// the length, before anything is allocated for it.
//
// Differences from Redis, on purpose: inline commands are split at blanks only
// (no quotes), and a bulk string must end in \r\n.
//
// Everything here is a pure function: thread-safe.
#ifndef LOOP_REDIS_RESP_H_
#define LOOP_REDIS_RESP_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace loop {
namespace resp {

struct Limits {
  std::size_t max_bulk = std::size_t{64} << 20;  // one argument; Redis: 512 MiB
  std::size_t max_args = std::size_t{1} << 20;   // arguments of one request
  std::size_t max_line = std::size_t{64} << 10;  // an inline request or a
                                                 // "*N"/"$N" header line
};

enum class ParseStatus {
  kIncomplete,  // a request has begun but is not all here: read more
  kCommand,     // *args holds one request (maybe empty: a blank line)
  kError,       // a protocol error: reply `error`, then close the connection
};

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  std::size_t consumed = 0;  // kCommand: bytes of `input` the request used
  std::string error;  // kError: the reply's text, "ERR Protocol error: ..."
};

// Parses the request at the front of `input` into *args (cleared first).
ParseResult ParseCommand(std::string_view input, const Limits& limits,
                         std::vector<std::string>* args);

// Replies, appended to *out.
void AppendSimple(std::string* out, std::string_view text);   // +OK
void AppendError(std::string* out, std::string_view text);    // -ERR ...
void AppendInteger(std::string* out, long long value);        // :42
void AppendBulk(std::string* out, std::string_view bytes);    // $3\r\nabc
void AppendNullBulk(std::string* out);                        // $-1
void AppendArrayHeader(std::string* out, std::size_t count);  // *2, then
                                                              // the items

}  // namespace resp
}  // namespace loop

#endif  // LOOP_REDIS_RESP_H_
