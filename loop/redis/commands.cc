// Given: the command table (see commands.h).
#include "loop/redis/commands.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "loop/redis/resp.h"

namespace loop {

bool SleepCanceller::SleepFor(std::chrono::milliseconds duration) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, duration, [this] { return cancelled_; });
}

void SleepCanceller::CancelAll() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

namespace {

using Args = std::vector<std::string>;

struct Context {
  const Args& args;
  Store& store;
  const std::shared_ptr<SleepCanceller>& canceller;
  std::string* out;
};

struct Command {
  // Redis's convention: n > 0 is exactly n words (the name included), n < 0
  // is at least -n.
  int arity;
  Outcome (*run)(Context& c);
};

Outcome Done() { return Outcome{}; }

Outcome Ok(Context& c) {
  resp::AppendSimple(c.out, "OK");
  return Done();
}

std::string Lower(const std::string& s) {
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return std::tolower(ch); });
  return lower;
}

// The whole of `text` as a decimal long long, as Redis's string2ll accepts it.
bool ToInteger(const std::string& text, long long* value) {
  if (text.empty() || text.size() > 20) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size() ||
      std::isspace(static_cast<unsigned char>(text[0])) || text[0] == '+') {
    return false;
  }
  *value = v;
  return true;
}

Outcome Ping(Context& c) {
  if (c.args.size() == 2) {
    resp::AppendBulk(c.out, c.args[1]);
  } else {
    resp::AppendSimple(c.out, "PONG");
  }
  return Done();
}

Outcome Echo(Context& c) {
  resp::AppendBulk(c.out, c.args[1]);
  return Done();
}

Outcome Set(Context& c) {
  if (c.args.size() != 3) {
    resp::AppendError(c.out, "ERR syntax error");
    return Done();
  }
  c.store.values[c.args[1]] = c.args[2];
  return Ok(c);
}

Outcome Get(Context& c) {
  auto it = c.store.values.find(c.args[1]);
  if (it == c.store.values.end()) {
    resp::AppendNullBulk(c.out);
  } else {
    resp::AppendBulk(c.out, it->second);
  }
  return Done();
}

Outcome Del(Context& c) {
  long long removed = 0;
  for (std::size_t i = 1; i < c.args.size(); ++i) {
    removed += static_cast<long long>(c.store.values.erase(c.args[i]));
  }
  resp::AppendInteger(c.out, removed);
  return Done();
}

Outcome Exists(Context& c) {
  long long found = 0;
  for (std::size_t i = 1; i < c.args.size(); ++i) {
    found += static_cast<long long>(c.store.values.count(c.args[i]));
  }
  resp::AppendInteger(c.out, found);
  return Done();
}

Outcome Incr(Context& c) {
  std::string& value = c.store.values[c.args[1]];  // "" if new
  long long n = 0;
  if (!value.empty() && !ToInteger(value, &n)) {
    resp::AppendError(c.out, "ERR value is not an integer or out of range");
    return Done();
  }
  if (n == std::numeric_limits<long long>::max()) {
    resp::AppendError(c.out, "ERR increment or decrement would overflow");
    return Done();
  }
  value = std::to_string(++n);
  resp::AppendInteger(c.out, n);
  return Done();
}

Outcome DbSize(Context& c) {
  resp::AppendInteger(c.out, static_cast<long long>(c.store.values.size()));
  return Done();
}

Outcome FlushAll(Context& c) {
  c.store.values.clear();
  return Ok(c);
}

Outcome Select(Context& c) {
  long long db = 0;
  if (!ToInteger(c.args[1], &db)) {
    resp::AppendError(c.out, "ERR value is not an integer or out of range");
  } else if (db != 0) {
    resp::AppendError(c.out, "ERR DB index is out of range");
  } else {
    resp::AppendSimple(c.out, "OK");
  }
  return Done();
}

Outcome Quit(Context& c) {
  resp::AppendSimple(c.out, "OK");
  Outcome o;
  o.after = Outcome::kClose;
  return o;
}

Outcome CommandDocs(Context& c) {
  if (c.args.size() >= 2 && Lower(c.args[1]) == "count") {
    resp::AppendInteger(c.out, 0);
  } else {
    resp::AppendArrayHeader(c.out, 0);
  }
  return Done();
}

Outcome Config(Context& c) {
  if (Lower(c.args[1]) != "get" || c.args.size() != 3) {
    resp::AppendError(c.out,
                      "ERR unknown subcommand or wrong number of "
                      "arguments for 'config' (only CONFIG GET "
                      "parameter)");
    return Done();
  }
  const std::string name = Lower(c.args[2]);
  if (name == "save" || name == "appendonly") {
    resp::AppendArrayHeader(c.out, 2);
    resp::AppendBulk(c.out, name);
    resp::AppendBulk(c.out, name == "save" ? "" : "no");
  } else {
    resp::AppendArrayHeader(c.out, 0);
  }
  return Done();
}

constexpr double kMaxSleepSeconds = 60;

Outcome Debug(Context& c) {
  if (Lower(c.args[1]) != "sleep" || c.args.size() != 3) {
    resp::AppendError(c.out, "ERR only DEBUG SLEEP seconds is supported");
    return Done();
  }
  char* end = nullptr;
  const double seconds = std::strtod(c.args[2].c_str(), &end);
  if (c.args[2].empty() || end != c.args[2].c_str() + c.args[2].size() ||
      !(seconds >= 0 && seconds <= kMaxSleepSeconds)) {
    resp::AppendError(c.out,
                      "ERR DEBUG SLEEP takes a number of seconds from 0 to 60");
    return Done();
  }
  const auto duration =
      std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0 + 0.5));
  Outcome o;
  o.after = Outcome::kOffload;
  o.work = [canceller = c.canceller, duration]() -> std::string {
    if (canceller->SleepFor(duration)) return "+OK\r\n";
    return "-ERR DEBUG SLEEP cut short: the server is shutting down\r\n";
  };
  return o;
}

const std::unordered_map<std::string, Command>& Table() {
  static const auto* table = new std::unordered_map<std::string, Command>{
      {"ping", {-1, Ping}},
      {"echo", {2, Echo}},
      {"set", {-3, Set}},
      {"get", {2, Get}},
      {"del", {-2, Del}},
      {"exists", {-2, Exists}},
      {"incr", {2, Incr}},
      {"dbsize", {1, DbSize}},
      {"flushall", {-1, FlushAll}},
      {"flushdb", {-1, FlushAll}},
      {"select", {2, Select}},
      {"quit", {-1, Quit}},
      {"command", {-1, CommandDocs}},
      {"config", {-2, Config}},
      {"debug", {-2, Debug}},
  };
  return *table;
}

void UnknownCommand(const Args& args, std::string* out) {
  // Redis's words, each argument cut at 128 bytes.
  std::string text = "ERR unknown command '" + args[0].substr(0, 128) +
                     "', with args beginning with: ";
  for (std::size_t i = 1; i < args.size() && text.size() < 1024; ++i) {
    text += "'" + args[i].substr(0, 128) + "' ";
  }
  // A reply line must not contain \r or \n.
  std::replace(text.begin(), text.end(), '\r', ' ');
  std::replace(text.begin(), text.end(), '\n', ' ');
  resp::AppendError(out, text);
}

}  // namespace

Outcome Execute(const std::vector<std::string>& args, Store& store,
                const std::shared_ptr<SleepCanceller>& canceller,
                std::string* out) {
  if (args.empty()) return Done();  // a blank inline line: no reply
  const std::string name = Lower(args[0]);
  auto it = Table().find(name);
  if (it == Table().end()) {
    UnknownCommand(args, out);
    return Done();
  }
  const int arity = it->second.arity;
  const int words =
      static_cast<int>(std::min<std::size_t>(args.size(), 1 << 30));
  if ((arity > 0 && words != arity) || (arity < 0 && words < -arity) ||
      (name == "ping" && words > 2)) {
    resp::AppendError(
        out, "ERR wrong number of arguments for '" + name + "' command");
    return Done();
  }
  Context c{args, store, canceller, out};
  return it->second.run(c);
}

}  // namespace loop
