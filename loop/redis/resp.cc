// Given: the RESP2 parser and reply writers (see resp.h).
#include "loop/redis/resp.h"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace loop {
namespace resp {
namespace {

constexpr std::size_t kNotFound = std::string_view::npos;

// Redis's string2ll: an optional '-', then digits with no leading zero (or
// just "0"), at most 20 characters, no overflow. Returns false otherwise.
bool ParseLongLong(std::string_view text, long long* value) {
  if (text.empty() || text.size() > 20) return false;
  if (text == "0") {
    *value = 0;
    return true;
  }
  bool negative = false;
  std::size_t i = 0;
  if (text[0] == '-') {
    negative = true;
    i = 1;
  }
  if (i >= text.size() || text[i] < '1' || text[i] > '9') return false;
  unsigned long long v = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    const unsigned digit = static_cast<unsigned>(c - '0');
    if (v > (~0ULL - digit) / 10) return false;
    v = v * 10 + digit;
  }
  const unsigned long long limit =
      negative ? 9223372036854775808ULL : 9223372036854775807ULL;
  if (v > limit) return false;
  *value = negative ? static_cast<long long>(0 - v) : static_cast<long long>(v);
  return true;
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

bool IsSpace(char c) {  // C's isspace in the "C" locale
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

// Redis's sdssplitargs: false on unbalanced quotes. The line ends at its first
// NUL byte, as the C string Redis splits does.
bool SplitArgs(std::string_view line, std::vector<std::string>* args) {
  const std::size_t nul = line.find('\0');
  if (nul != kNotFound) line = line.substr(0, nul);
  std::size_t p = 0;
  const std::size_t n = line.size();
  auto at = [&](std::size_t i) { return i < n ? line[i] : '\0'; };
  for (;;) {
    while (p < n && IsSpace(line[p])) ++p;
    if (p >= n) return true;
    bool in_double = false, in_single = false, done = false;
    std::string current;
    while (!done) {
      const char c = at(p);
      if (in_double) {
        if (c == '\\' && at(p + 1) == 'x' && IsHex(at(p + 2)) &&
            IsHex(at(p + 3))) {
          current.push_back(static_cast<char>(HexValue(at(p + 2)) * 16 +
                                              HexValue(at(p + 3))));
          p += 3;
        } else if (c == '\\' && at(p + 1) != '\0') {
          ++p;
          switch (at(p)) {
            case 'n':
              current.push_back('\n');
              break;
            case 'r':
              current.push_back('\r');
              break;
            case 't':
              current.push_back('\t');
              break;
            case 'b':
              current.push_back('\b');
              break;
            case 'a':
              current.push_back('\a');
              break;
            default:
              current.push_back(at(p));
              break;
          }
        } else if (c == '"') {
          // The closing quote must be followed by a space or nothing.
          if (at(p + 1) != '\0' && !IsSpace(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;  // unterminated quotes
        } else {
          current.push_back(c);
        }
      } else if (in_single) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          current.push_back('\'');
        } else if (c == '\'') {
          if (at(p + 1) != '\0' && !IsSpace(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          current.push_back(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_double = true;
            break;
          case '\'':
            in_single = true;
            break;
          default:
            current.push_back(c);
            break;
        }
      }
      if (p < n) ++p;
    }
    args->push_back(std::move(current));
  }
}

ParseResult Done(std::size_t consumed) {
  ParseResult r;
  r.status = ParseStatus::kCommand;
  r.consumed = consumed;
  return r;
}

}  // namespace

void RequestParser::Reset() {
  mode_ = Mode::kStart;
  pos_ = 0;
  scan_ = 0;
  remaining_ = 0;
  bulk_len_ = -1;
  parsed_.clear();
}

ParseResult RequestParser::Fail(std::string text) {
  Reset();
  ParseResult r;
  r.status = ParseStatus::kError;
  r.error = "ERR Protocol error: " + std::move(text);
  return r;
}

std::size_t RequestParser::Find(std::string_view input, char c,
                                std::size_t from) {
  const std::size_t at = input.find(c, from);
  scanned_ += (at == kNotFound ? input.size() : at + 1) - from;
  return at;
}

ParseResult RequestParser::Parse(std::string_view input, const Limits& limits,
                                 std::vector<std::string>* args) {
  args->clear();
  // The caller dropped input it had not parsed yet (a shutdown clears it):
  // what was parsed of it is gone too.
  if (scan_ > input.size()) Reset();
  if (mode_ == Mode::kStart) {
    if (input.empty()) return ParseResult{};
    mode_ = input[0] == '*' ? Mode::kMultibulk : Mode::kInline;
  }
  return mode_ == Mode::kInline ? ParseInline(input, limits, args)
                                : ParseMultibulk(input, limits, args);
}

ParseResult RequestParser::ParseInline(std::string_view input,
                                       const Limits& limits,
                                       std::vector<std::string>* args) {
  const std::size_t nl = Find(input, '\n', scan_);
  if (nl == kNotFound) {
    scan_ = input.size();
    if (input.size() > limits.max_line) return Fail("too big inline request");
    return ParseResult{};
  }
  std::size_t end = nl;
  if (end > 0 && input[end - 1] == '\r') --end;
  scanned_ += end;
  if (!SplitArgs(input.substr(0, end), args)) {
    args->clear();
    return Fail("unbalanced quotes in request");
  }
  Reset();
  return Done(nl + 1);
}

ParseResult RequestParser::ParseMultibulk(std::string_view input,
                                          const Limits& limits,
                                          std::vector<std::string>* args) {
  if (pos_ == 0) {  // the "*N" line
    const std::size_t cr = Find(input, '\r', scan_);
    if (cr == kNotFound) {
      scan_ = input.size();
      if (input.size() > limits.max_line) {
        return Fail("too big mbulk count string");
      }
      return ParseResult{};
    }
    scan_ = cr;  // found: look here again if the byte after it is missing
    if (cr + 1 >= input.size()) return ParseResult{};  // and the \n?
    long long count = 0;
    if (!ParseLongLong(input.substr(1, cr - 1), &count) ||
        count > static_cast<long long>(limits.max_args)) {
      return Fail("invalid multibulk length");
    }
    if (count <= 0) {  // Redis: an empty request, and the stream goes on
      Reset();
      return Done(cr + 2);
    }
    pos_ = scan_ = cr + 2;
    remaining_ = count;
    bulk_len_ = -1;
    parsed_.reserve(static_cast<std::size_t>(std::min<long long>(count, 1024)));
  }
  while (remaining_ > 0) {
    if (bulk_len_ < 0) {  // the "$N" line
      const std::size_t cr = Find(input, '\r', scan_);
      if (cr == kNotFound) {
        scan_ = input.size();
        if (input.size() - pos_ > limits.max_line) {
          return Fail("too big bulk count string");
        }
        return ParseResult{};
      }
      scan_ = cr;
      if (cr + 1 >= input.size()) return ParseResult{};
      if (input[pos_] != '$') {
        // Redis prints the byte as it is, but a reply line cannot hold a CR
        // or LF: those become spaces, as in Redis's addReplyErrorFormat.
        char got = input[pos_];
        if (got == '\r' || got == '\n') got = ' ';
        return Fail(std::string("expected '$', got '") + got + "'");
      }
      long long len = 0;
      if (!ParseLongLong(input.substr(pos_ + 1, cr - pos_ - 1), &len) ||
          len < 0 || static_cast<unsigned long long>(len) > limits.max_bulk) {
        return Fail("invalid bulk length");
      }
      bulk_len_ = len;
      pos_ = scan_ = cr + 2;
    }
    const std::size_t need = static_cast<std::size_t>(bulk_len_) + 2;
    if (input.size() - pos_ < need) return ParseResult{};
    parsed_.emplace_back(
        input.substr(pos_, static_cast<std::size_t>(bulk_len_)));
    scanned_ += static_cast<std::size_t>(bulk_len_);
    pos_ = scan_ = pos_ + need;  // the two bytes after it are skipped, as Redis
    bulk_len_ = -1;
    --remaining_;
  }
  args->swap(parsed_);
  const std::size_t consumed = pos_;
  Reset();
  return Done(consumed);
}

ParseResult ParseCommand(std::string_view input, const Limits& limits,
                         std::vector<std::string>* args) {
  RequestParser parser;
  return parser.Parse(input, limits, args);
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
