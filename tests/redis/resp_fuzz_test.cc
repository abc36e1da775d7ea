// Fuzzing lesson 12's RESP parser (resp.h): random bytes, mutated requests,
// and the same stream cut at random places. Run under ASan by ./tools/check,
// so a read past the buffer or a leak fails here. Seeds are fixed: a failure
// replays exactly.
#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "loop/redis/resp.h"

namespace loop {
namespace {

using resp::ParseCommand;
using resp::ParseResult;
using resp::ParseStatus;

// Parses requests off the front of `input` until it runs out, checking what
// every result promises. Returns the requests.
std::vector<std::vector<std::string>> ParseAll(std::string_view input,
                                               const resp::Limits& limits,
                                               bool* stopped_on_error) {
  std::vector<std::vector<std::string>> requests;
  std::vector<std::string> args;
  *stopped_on_error = false;
  while (!input.empty()) {
    const ParseResult r = ParseCommand(input, limits, &args);
    if (r.status == ParseStatus::kIncomplete) {
      EXPECT_EQ(r.consumed, 0u);
      break;
    }
    if (r.status == ParseStatus::kError) {
      EXPECT_EQ(r.error.rfind("ERR Protocol error: ", 0), 0u) << r.error;
      EXPECT_EQ(r.error.find_first_of("\r\n"), std::string::npos);
      *stopped_on_error = true;
      break;
    }
    EXPECT_GT(r.consumed, 0u);
    EXPECT_LE(r.consumed, input.size());
    if (r.consumed == 0 || r.consumed > input.size()) break;
    requests.push_back(args);
    input.remove_prefix(r.consumed);
  }
  return requests;
}

std::string Encode(const std::vector<std::string>& words) {
  std::string out = "*" + std::to_string(words.size()) + "\r\n";
  for (const std::string& w : words) {
    out += "$" + std::to_string(w.size()) + "\r\n" + w + "\r\n";
  }
  return out;
}

std::vector<std::string> RandomWords(std::mt19937& rng) {
  std::vector<std::string> words(1 + rng() % 4);
  for (std::string& w : words) {
    w.resize(rng() % 40);
    for (char& c : w) c = static_cast<char>(rng());  // any byte, \r\n too
  }
  return words;
}

resp::Limits SmallLimits() {
  resp::Limits limits;
  limits.max_bulk = 1000;
  limits.max_args = 64;
  limits.max_line = 256;
  return limits;
}

TEST(RespFuzz, RandomBytesNeverCrashAndEveryResultKeepsItsPromises) {
  std::mt19937 rng(1);
  const std::string alphabet = "*$+-:\r\n0123456789 -aZ\t";
  const resp::Limits limits = SmallLimits();
  for (int round = 0; round < 20000; ++round) {
    std::string input(rng() % 300, '\0');
    const bool biased = round % 2 == 0;
    for (char& c : input) {
      c = biased ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng());
    }
    bool error = false;
    ParseAll(input, limits, &error);
    if (HasFailure()) {
      ADD_FAILURE() << "round " << round;
      return;
    }
  }
}

TEST(RespFuzz, MutatedRequestsNeverCrash) {
  std::mt19937 rng(2);
  const resp::Limits limits = SmallLimits();
  for (int round = 0; round < 20000; ++round) {
    std::string input;
    for (int i = 0; i < 3; ++i) input += Encode(RandomWords(rng));
    for (int m = 1 + rng() % 4; m > 0 && !input.empty(); --m) {
      const std::size_t at = rng() % input.size();
      switch (rng() % 4) {
        case 0:
          input[at] = static_cast<char>(rng());
          break;
        case 1:
          input.erase(at, 1 + rng() % 8);
          break;
        case 2:
          input.insert(at, 1, "*$\r\n9-"[rng() % 6]);
          break;
        default:
          input.resize(at);  // cut short
      }
    }
    bool error = false;
    ParseAll(input, limits, &error);
    if (HasFailure()) {
      ADD_FAILURE() << "round " << round;
      return;
    }
  }
}

TEST(RespFuzz, AStreamCutAnywhereParsesToTheSameRequests) {
  std::mt19937 rng(3);
  const resp::Limits limits;
  for (int round = 0; round < 300; ++round) {
    std::vector<std::vector<std::string>> sent;
    std::string stream;
    for (int i = 0; i < 20; ++i) {
      if (rng() % 4 == 0) {  // an inline request: no blanks, \r or \n inside
        std::vector<std::string> words = {"SET", "k" + std::to_string(rng()),
                                          std::to_string(rng())};
        stream += words[0] + " " + words[1] + "  " + words[2] + "\r\n";
        sent.push_back(words);
      } else {
        sent.push_back(RandomWords(rng));
        stream += Encode(sent.back());
      }
    }
    // The bytes arrive in random pieces; after each piece, parse what is
    // there, as the server does.
    std::string buffer;
    std::vector<std::vector<std::string>> got;
    std::vector<std::string> args;
    std::size_t fed = 0;
    while (fed < stream.size()) {
      const std::size_t piece =
          std::min<std::size_t>(1 + rng() % 64, stream.size() - fed);
      buffer.append(stream, fed, piece);
      fed += piece;
      for (;;) {
        const ParseResult r = ParseCommand(buffer, limits, &args);
        ASSERT_NE(r.status, ParseStatus::kError)
            << r.error << " (round " << round << ")";
        if (r.status == ParseStatus::kIncomplete) break;
        got.push_back(args);
        buffer.erase(0, r.consumed);
      }
    }
    EXPECT_TRUE(buffer.empty());
    ASSERT_EQ(got, sent) << "round " << round;
  }
}

TEST(RespFuzz, LengthsOverTheLimitsAreRefusedBeforeTheBytesArrive) {
  const resp::Limits limits = SmallLimits();
  std::vector<std::string> args;
  const ParseResult huge =
      ParseCommand("*1\r\n$68719476736\r\n", limits, &args);
  EXPECT_EQ(huge.status, ParseStatus::kError);
  EXPECT_EQ(huge.error, "ERR Protocol error: invalid bulk length");
  const ParseResult over = ParseCommand("*1\r\n$1001\r\n", limits, &args);
  EXPECT_EQ(over.status, ParseStatus::kError) << "max_bulk is 1000";
  const ParseResult many = ParseCommand("*65\r\n", limits, &args);
  EXPECT_EQ(many.status, ParseStatus::kError) << "max_args is 64";
  EXPECT_EQ(many.error, "ERR Protocol error: invalid multibulk length");
  const std::string long_line(300, 'a');
  const ParseResult line = ParseCommand(long_line, limits, &args);
  EXPECT_EQ(line.status, ParseStatus::kError)
      << "an inline request longer than max_line with no newline";
  EXPECT_EQ(line.error, "ERR Protocol error: too big inline request");
  const ParseResult at_limit =
      ParseCommand(std::string(200, 'a'), limits, &args);
  EXPECT_EQ(at_limit.status, ParseStatus::kIncomplete);
}

}  // namespace
}  // namespace loop
