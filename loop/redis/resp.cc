// Given: the RESP2 parser and reply writers (see resp.h).
#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "loop/redis/resp.h"

namespace loop {
namespace resp {
namespace {

constexpr std::size_t kNotFound = std::string_view::npos;

// A non-negative decimal of at most 18 digits, the whole of `text`; -1 if
// `text` is anything else. "*-1" and "$-1" are handled by the callers.
long long ParseLength(std::string_view text) {
  if (text.empty() || text.size() > 18) return -1;
  long long value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

ParseResult Error(std::string text) {
  ParseResult r;
  r.status = ParseStatus::kError;
  r.error = "ERR Protocol error: " + std::move(text);
  return r;
}

ParseResult Incomplete() { return ParseResult{}; }

// A byte as an error reply may show it: 'x', or \xNN when it is not
// printable (a \r or \n would end the reply line early).
std::string Shown(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static const char kHex[] = "0123456789abcdef";
  return std::string("\\x") + kHex[u >> 4] + kHex[u & 15];
}

// The header line "<prefix><digits>\r\n" at `pos`: sets *value and *next (the
// byte after \n). Returns kCommand when done, else kIncomplete or kError.
ParseResult ReadHeader(std::string_view in, std::size_t pos,
                       const Limits& limits, const char* what, long long* value,
                       std::size_t* next) {
  const std::size_t cr = in.find('\r', pos);
  if (cr == kNotFound || cr + 1 >= in.size()) {
    if (in.size() - pos > limits.max_line) {
      return Error(std::string("too big ") + what + " count string");
    }
    return Incomplete();
  }
  if (in[cr + 1] != '\n') return Error(std::string("invalid ") + what);
  const std::string_view digits = in.substr(pos + 1, cr - pos - 1);
  if (digits == "-1") {
    *value = -1;
  } else {
    *value = ParseLength(digits);
    if (*value < 0) return Error(std::string("invalid ") + what);
  }
  *next = cr + 2;
  ParseResult done;
  done.status = ParseStatus::kCommand;
  return done;
}

ParseResult ParseMultibulk(std::string_view in, const Limits& limits,
                           std::vector<std::string>* args) {
  long long count = 0;
  std::size_t pos = 0;
  ParseResult r = ReadHeader(in, 0, limits, "multibulk length", &count, &pos);
  if (r.status != ParseStatus::kCommand) return r;
  if (count > static_cast<long long>(limits.max_args)) {
    return Error("invalid multibulk length");
  }
  // First pass: is the whole request here? Nothing is copied yet, so a client
  // that announces a huge request costs nothing until it sends it.
  const std::size_t first = pos;
  for (long long i = 0; i < count; ++i) {
    if (pos >= in.size()) return Incomplete();
    if (in[pos] != '$') {
      return Error("expected '$', got " + Shown(in[pos]));
    }
    long long len = 0;
    r = ReadHeader(in, pos, limits, "bulk length", &len, &pos);
    if (r.status != ParseStatus::kCommand) return r;
    if (len < 0 || static_cast<unsigned long long>(len) > limits.max_bulk) {
      return Error("invalid bulk length");
    }
    const std::size_t need = static_cast<std::size_t>(len) + 2;
    if (in.size() - pos < need) return Incomplete();
    if (in[pos + len] != '\r' || in[pos + len + 1] != '\n') {
      return Error("expected CRLF after a bulk string");
    }
    pos += need;
  }
  // Second pass: copy the arguments out.
  args->reserve(static_cast<std::size_t>(count < 0 ? 0 : count));
  std::size_t at = first;
  for (long long i = 0; i < count; ++i) {
    const std::size_t cr = in.find('\r', at);
    const std::size_t len =
        static_cast<std::size_t>(ParseLength(in.substr(at + 1, cr - at - 1)));
    at = cr + 2;
    args->emplace_back(in.substr(at, len));
    at += len + 2;
  }
  ParseResult done;
  done.status = ParseStatus::kCommand;
  done.consumed = pos;
  return done;
}

ParseResult ParseInline(std::string_view in, const Limits& limits,
                        std::vector<std::string>* args) {
  const std::size_t nl = in.find('\n');
  if (nl == kNotFound) {
    if (in.size() > limits.max_line) return Error("too big inline request");
    return Incomplete();
  }
  if (nl > limits.max_line) return Error("too big inline request");
  std::string_view line = in.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) args->emplace_back(line.substr(i, j - i));
    i = j;
  }
  ParseResult done;
  done.status = ParseStatus::kCommand;
  done.consumed = nl + 1;
  return done;
}

}  // namespace

ParseResult ParseCommand(std::string_view input, const Limits& limits,
                         std::vector<std::string>* args) {
  args->clear();
  if (input.empty()) return Incomplete();
  if (input[0] == '*') return ParseMultibulk(input, limits, args);
  return ParseInline(input, limits, args);
}

void AppendSimple(std::string* out, std::string_view text) {
  out->push_back('+');
  out->append(text);
  out->append("\r\n");
}

void AppendError(std::string* out, std::string_view text) {
  out->push_back('-');
  out->append(text);
  out->append("\r\n");
}

void AppendInteger(std::string* out, long long value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out->push_back(':');
  out->append(digits, end);
  out->append("\r\n");
}

void AppendBulk(std::string* out, std::string_view bytes) {
  char digits[24];
  const auto end =
      std::to_chars(digits, digits + sizeof digits, bytes.size()).ptr;
  out->push_back('$');
  out->append(digits, end);
  out->append("\r\n");
  out->append(bytes);
  out->append("\r\n");
}

void AppendNullBulk(std::string* out) { out->append("$-1\r\n"); }

void AppendArrayHeader(std::string* out, std::size_t count) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, count).ptr;
  out->push_back('*');
  out->append(digits, end);
  out->append("\r\n");
}

}  // namespace resp
}  // namespace loop
