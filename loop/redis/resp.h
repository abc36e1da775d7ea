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
// A RequestParser reads one request at a time from the front of a
// connection's unparsed input, and resumes where it stopped when more bytes
// arrive: a request that arrives in N pieces costs O(its size) to parse, not
// O(N x size) (bytes_scanned() counts the work, for tests). It never reads past
// the input, copies each argument once, and refuses a length over the limits as
// soon as it reads the length, before anything is allocated for it.
//
// As Redis does: a multibulk count of 0 or less is an empty request (no reply,
// the stream goes on); an inline line is split as redis-cli's prompt and
// sdssplitargs split it ("double quotes" with \n \r \t \b \a \\ \" and
// \xHH, 'single quotes' with \'), and unbalanced quotes are a protocol error;
// the two bytes after a bulk string are skipped, not checked. Every error text
// is redis-server 7's own (tests/redis/protocol_test.cc holds them, and checks
// them against a real redis-server when one is installed).
//
// The free functions are pure: thread-safe. A RequestParser belongs to one
// connection.
#ifndef LOOP_REDIS_RESP_H_
#define LOOP_REDIS_RESP_H_

#include <cstddef>
#include <cstdint>
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
  kCommand,     // *args holds one request (maybe empty: a blank line, "*0")
  kError,       // a protocol error: reply `error`, then close the connection
};

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  std::size_t consumed = 0;  // kCommand: bytes of `input` the request used
  std::string error;  // kError: the reply's text, "ERR Protocol error: ..."
};

// One connection's parser. Owned by its connection; not thread-safe.
class RequestParser {
 public:
  // Parses the request at the front of `input` into *args (cleared first).
  // Between two calls `input` may only have grown at the back: the same
  // unparsed bytes, maybe more. After kCommand the caller drops `consumed`
  // bytes from the front, and the next call starts a new request. After
  // kError the parser starts afresh too (the caller closes the connection).
  // Input shorter than what was already parsed means the caller dropped it:
  // the parser starts afresh.
  ParseResult Parse(std::string_view input, const Limits& limits,
                    std::vector<std::string>* args);

  // Bytes looked at so far by all calls: each byte of input is looked at a
  // small constant number of times, however the input was split.
  std::uint64_t bytes_scanned() const { return scanned_; }

 private:
  enum class Mode { kStart, kInline, kMultibulk };

  void Reset();
  ParseResult Fail(std::string text);
  // The position of `c` in input[from, end), or npos; counts what it scanned.
  std::size_t Find(std::string_view input, char c, std::size_t from);
  ParseResult ParseInline(std::string_view input, const Limits& limits,
                          std::vector<std::string>* args);
  ParseResult ParseMultibulk(std::string_view input, const Limits& limits,
                             std::vector<std::string>* args);

  Mode mode_ = Mode::kStart;
  std::size_t pos_ = 0;      // bytes of this request parsed so far
  std::size_t scan_ = 0;     // the line being looked for: searched up to here
  long long remaining_ = 0;  // multibulk: arguments still to read
  long long bulk_len_ = -1;  // multibulk: the next argument's length, once
                             // its "$N" line is read; else -1
  std::vector<std::string> parsed_;  // multibulk: the arguments read so far
  std::uint64_t scanned_ = 0;
};

// Parses one request from the front of `input` with a fresh parser: for tests
// and one-shot callers.
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
