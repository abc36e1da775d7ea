#include "tests/benchmarks/bench_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "benchmark/benchmark.h"
#include "loop/sys_error.h"

namespace loop {
namespace bench {

long Check(long r, const std::string& what) {
  if (r == -1) throw SysError(what, errno);
  return r;
}

RawEventfd::RawEventfd()
    : fd_(static_cast<int>(Check(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
                                 "eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)"))) {}

RawEventfd::~RawEventfd() { close(fd_); }

void RawEventfd::Add1() const {
  const std::uint64_t one = 1;
  ssize_t n;
  do {
    n = write(fd_, &one, sizeof one);
  } while (n == -1 && errno == EINTR);
  Check(n, "write(eventfd " + std::to_string(fd_) + ")");
}

std::uint64_t RawEventfd::Take() const {
  std::uint64_t value = 0;
  ssize_t n;
  do {
    n = read(fd_, &value, sizeof value);
  } while (n == -1 && errno == EINTR);
  if (n == -1 && errno == EAGAIN) return 0;
  Check(n, "read(eventfd " + std::to_string(fd_) + ")");
  return value;
}

std::vector<WakerCase> AllWakerCases() {
  std::vector<WakerCase> cases;
  for (Backend b : AvailableBackends()) {
    for (WakerKind k : AvailableWakerKinds(b)) cases.push_back({b, k});
  }
  return cases;
}

std::string CaseName(const WakerCase& c) {
  return std::string(BackendName(c.backend)) + "/" + WakerKindName(c.kind);
}

int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) throw SysError("opendir(/proc/self/fd)", errno);
  int n = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory's own descriptor
}

namespace {

void Settle(void (*settle)()) {
  for (Backend b : AvailableBackends()) {
    if (b == Backend::kKqueue) {
      Poll poll(b);  // its kqueue() reaps the closed ones
    }
  }
  if (settle != nullptr) settle();
}

}  // namespace

int RunBenchmarks(int argc, char** argv, void (*settle)()) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Settle(settle);
  const int before = CountOpenFds();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  Settle(settle);
  const int after = CountOpenFds();
  if (after != before) {
    std::fprintf(
        stderr,
        "LEAK: %d descriptors were open before the benchmarks and %d after\n",
        before, after);
    return 1;
  }
  return 0;
}

std::uint64_t RaiseFdLimit() {
  rlimit limit;
  Check(getrlimit(RLIMIT_NOFILE, &limit), "getrlimit(RLIMIT_NOFILE)");
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    Check(setrlimit(RLIMIT_NOFILE, &limit), "setrlimit(RLIMIT_NOFILE)");
  }
  return limit.rlim_cur;
}

int FixedIterations() {
  const char* text = std::getenv("ELFS_BENCH_ITERATIONS");
  if (text == nullptr) return 0;
  char* end = nullptr;
  const long n = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || n <= 0 || n > 100000000) return 0;
  return static_cast<int>(n);
}

}  // namespace bench
}  // namespace loop
