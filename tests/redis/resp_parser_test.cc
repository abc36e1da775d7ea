// The RESP parser of lesson 12's server (loop/redis/resp.h) as a connection
// uses it: one RequestParser, input that grows at the back a few bytes at a
// time. Work is counted (bytes_scanned), never timed.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "loop/redis/resp.h"

namespace loop {
namespace {

using resp::ParseResult;
using resp::ParseStatus;
using resp::RequestParser;
using Args = std::vector<std::string>;

// Feeds `request` to one parser `piece` bytes at a time, as reads would, and
// returns the parser's count of bytes scanned once the request is whole.
std::uint64_t ScannedInPieces(const std::string& request, std::size_t piece,
                              Args* args) {
  RequestParser parser;
  const resp::Limits limits;
  for (std::size_t have = piece;; have += piece) {
    const std::size_t n = std::min(have, request.size());
    const ParseResult r =
        parser.Parse(std::string_view(request).substr(0, n), limits, args);
    if (r.status == ParseStatus::kCommand) {
      EXPECT_EQ(r.consumed, request.size());
      return parser.bytes_scanned();
    }
    EXPECT_EQ(r.status, ParseStatus::kIncomplete) << r.error;
    if (r.status != ParseStatus::kIncomplete || n == request.size()) return 0;
  }
}

std::string Multibulk(std::size_t args) {
  std::string out = "*" + std::to_string(args) + "\r\n";
  for (std::size_t i = 0; i < args; ++i) out += "$1\r\na\r\n";
  return out;
}

TEST(RequestParser, AHugeRequestInSmallPiecesIsParsedInLinearWork) {
  const std::string request = Multibulk(100000);  // 700 KB
  Args args;
  const std::uint64_t whole = ScannedInPieces(request, request.size(), &args);
  ASSERT_EQ(args.size(), 100000u);
  const std::uint64_t pieces = ScannedInPieces(request, 7, &args);
  ASSERT_EQ(args.size(), 100000u);
  // Resuming costs at most a few bytes per piece; rescanning from the front
  // on every piece would cost about size^2 / 14, here 35 GB.
  EXPECT_LE(pieces, 2 * whole + request.size() / 7 * 8)
      << "the parser looked at " << pieces << " bytes to parse a "
      << request.size() << "-byte request that arrived in 7-byte pieces ("
      << whole
      << " when it arrived whole): it starts over on every piece "
         "instead of resuming where it stopped";
}

TEST(RequestParser, AnInlineLineInPiecesIsScannedOnce) {
  const std::string request = "SET key " + std::string(60000, 'v') + "\r\n";
  Args args;
  const std::uint64_t scanned = ScannedInPieces(request, 3, &args);
  ASSERT_EQ(args.size(), 3u);
  EXPECT_LE(scanned, 3 * request.size());
}

TEST(RequestParser, ResumesAcrossEveryCutOfARequest) {
  const std::string request = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
  for (std::size_t piece = 1; piece <= request.size(); ++piece) {
    Args args;
    ScannedInPieces(request, piece, &args);
    EXPECT_EQ(args, (Args{"SET", "k", "hello"})) << "pieces of " << piece;
  }
}

ParseResult ParseOnce(std::string_view input, Args* args) {
  return resp::ParseCommand(input, resp::Limits{}, args);
}

// Redis ignores a multibulk count of 0 or less and reads on.
TEST(RequestParser, ANegativeOrZeroCountIsAnEmptyRequest) {
  for (std::string_view input : {"*-10\r\n", "*0\r\n", "*-1\r\n"}) {
    Args args{"stale"};
    const ParseResult r = ParseOnce(input, &args);
    EXPECT_EQ(r.status, ParseStatus::kCommand) << input;
    EXPECT_EQ(r.consumed, input.size()) << input;
    EXPECT_TRUE(args.empty()) << input;
  }
}

TEST(RequestParser, InlineQuotesFollowRedis) {
  struct Case {
    std::string_view line;
    Args args;
  };
  const Case cases[] = {
      {"set \"a b\" c\r\n", {"set", "a b", "c"}},
      {"echo 'it\\'s'\r\n", {"echo", "it's"}},
      {"echo \"\\x41\\n\\t\"\n", {"echo", "A\n\t"}},
      {"echo \"\\q\"\r\n", {"echo", "q"}},
      {"echo a\"b c\"\r\n", {"echo", "ab c"}},
      {"  ping  \r\n", {"ping"}},
      {"\r\n", {}},
  };
  for (const Case& c : cases) {
    Args args;
    const ParseResult r = ParseOnce(c.line, &args);
    EXPECT_EQ(r.status, ParseStatus::kCommand) << c.line;
    EXPECT_EQ(args, c.args) << c.line;
  }
  for (std::string_view bad :
       {"echo \"abc\r\n", "echo \"a\"b\r\n", "echo a\"b c\"d\r\n",
        "echo 'abc\r\n", "echo 'a'b\r\n"}) {
    Args args;
    const ParseResult r = ParseOnce(bad, &args);
    EXPECT_EQ(r.status, ParseStatus::kError) << bad;
    EXPECT_EQ(r.error, "ERR Protocol error: unbalanced quotes in request")
        << bad;
  }
}

TEST(RequestParser, ErrorsComeOnlyOnceTheLineIsWhole) {
  Args args;
  EXPECT_EQ(ParseOnce("*1\r\nPI", &args).status, ParseStatus::kIncomplete)
      << "Redis waits for the whole \"$N\" line before it looks at it";
  const ParseResult r = ParseOnce("*1\r\nPING\r\n", &args);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error, "ERR Protocol error: expected '$', got 'P'");
}

TEST(RequestParser, TheTwoBytesAfterABulkAreSkippedAsRedisDoes) {
  Args args;
  const ParseResult r = ParseOnce("*1\r\n$4\r\nPINGxy", &args);
  EXPECT_EQ(r.status, ParseStatus::kCommand);
  EXPECT_EQ(r.consumed, 14u);
  EXPECT_EQ(args, (Args{"PING"}));
}

TEST(RequestParser, LengthsAreRedisIntegers) {
  Args args;
  for (std::string_view bad :
       {"*1\r\n$01\r\n", "*1\r\n$+1\r\n", "*1\r\n$\r\n", "*1\r\n$-0\r\n"}) {
    const ParseResult r = ParseOnce(bad, &args);
    EXPECT_EQ(r.status, ParseStatus::kError) << bad;
    EXPECT_EQ(r.error, "ERR Protocol error: invalid bulk length") << bad;
  }
  const ParseResult r = ParseOnce("*01\r\n", &args);
  EXPECT_EQ(r.error, "ERR Protocol error: invalid multibulk length");
}

TEST(RequestParser, InputDroppedByTheCallerStartsAfresh) {
  RequestParser parser;
  Args args;
  const resp::Limits limits;
  EXPECT_EQ(parser.Parse("*2\r\n$3\r\nGET\r\n", limits, &args).status,
            ParseStatus::kIncomplete);
  const ParseResult r = parser.Parse("PING\r\n", limits, &args);
  EXPECT_EQ(r.status, ParseStatus::kCommand);
  EXPECT_EQ(args, (Args{"PING"}));
}

}  // namespace
}  // namespace loop
