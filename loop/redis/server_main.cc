// The server as a program, for redis-cli and redis-benchmark:
//
//   bazel run -c opt //lessons/12_redis_server:server -- --port 6380
//
// It prints "listening on 127.0.0.1:PORT (backend epoll)" when it is ready
// (with --port 0 the kernel picks the port and the line says which), serves
// until SIGINT or SIGTERM, then shuts down as server.h says and exits 0.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "loop/redis/server.h"

namespace {

void Usage(const char* argv0) {
  std::fprintf(
      stderr,
      "usage: %s [--port N] [--host 127.0.0.1] [--backend epoll|kqueue]\n"
      "          [--max-clients N] [--idle-timeout-ms N] [--workers N] "
      "[--verbose]\n"
      "  --port 0 lets the kernel pick a free port (printed at start)\n",
      argv0);
}

bool ParseInt(const char* text, long min, long max, long* out) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < min || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  loop::ServerOptions options;
  options.port = 6380;
  options.stop_on_signals = true;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    long n = 0;
    if (flag == "--verbose") {
      options.verbose = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") {
      Usage(argv[0]);
      return 0;
    }
    if (value == nullptr) {
      std::fprintf(stderr, "%s needs a value\n", flag.c_str());
      Usage(argv[0]);
      return 2;
    }
    ++i;
    bool ok = true;
    if (flag == "--port") {
      ok = ParseInt(value, 0, 65535, &n);
      options.port = static_cast<int>(n);
    } else if (flag == "--host") {
      options.host = value;
    } else if (flag == "--backend") {
      if (std::strcmp(value, "epoll") == 0) {
        options.backend = loop::Backend::kEpoll;
      } else if (std::strcmp(value, "kqueue") == 0) {
        options.backend = loop::Backend::kKqueue;
      } else {
        ok = false;
      }
    } else if (flag == "--max-clients") {
      ok = ParseInt(value, 1, 1000000, &n);
      options.max_clients = static_cast<std::size_t>(n);
    } else if (flag == "--idle-timeout-ms") {
      ok = ParseInt(value, 0, 86400000, &n);
      options.idle_timeout = std::chrono::milliseconds(n);
    } else if (flag == "--workers") {
      ok = ParseInt(value, 1, 256, &n);
      options.workers = static_cast<int>(n);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      Usage(argv[0]);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "bad value for %s: %s\n", flag.c_str(), value);
      Usage(argv[0]);
      return 2;
    }
  }
  try {
    loop::Server server(options);
    std::printf("listening on %s:%d (backend %s)\n", options.host.c_str(),
                server.port(), loop::BackendName(options.backend));
    std::fflush(stdout);
    server.Run();
    const loop::ServerStats s = server.stats();
    std::printf("shut down by signal %d: %llu clients served, %llu requests\n",
                server.stopped_by_signal(),
                static_cast<unsigned long long>(s.accepted),
                static_cast<unsigned long long>(s.commands));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "server: %s\n", e.what());
    return 1;
  }
}
