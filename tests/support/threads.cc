#include "tests/support/threads.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/support/deadline.h"

#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace loop {
namespace testing {

long CurrentThreadId() {
#ifdef __linux__
  return static_cast<long>(syscall(SYS_gettid));
#else
  return 0;
#endif
}

bool IsBlockedInKernel(long tid) {
#ifdef __linux__
  if (tid == 0) return false;
  const std::string dir = "/proc/self/task/" + std::to_string(tid);
  // The state letter follows the ")" that ends the command name (which may
  // itself hold parentheses): 'S' while the thread sleeps, 'R' while it runs.
  std::ifstream stat(dir + "/stat");
  if (!stat) return true;  // The thread is gone: nothing to wait for.
  std::string line;
  std::getline(stat, line);
  const auto paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return true;
  if (line[paren + 2] != 'S') return false;
  // Asleep. Where the kernel says in which call, make sure it is not a futex
  // (a mutex or condition variable on the way to the blocking call).
  std::ifstream syscall_file(dir + "/syscall");
  std::string first;
  if (!(syscall_file >> first)) return true;  // Not readable here.
  if (first == "running") return false;
  char* end = nullptr;
  const long number = std::strtol(first.c_str(), &end, 10);
  if (end == first.c_str()) return true;
  return number >= 0 && number != SYS_futex;
#else
  static_cast<void>(tid);
  return true;
#endif
}

bool WaitUntilBlockedInKernel(long tid, std::chrono::milliseconds deadline) {
  return WaitUntil([tid] { return IsBlockedInKernel(tid); }, deadline);
}

}  // namespace testing
}  // namespace loop
