// File-descriptor facts for tests: is it open, is it close-on-exec, how many
// are open. Thread-safe (they only read kernel state), but counts are only
// meaningful when no other thread is opening or closing fds at the same time.
#ifndef TESTS_SUPPORT_FDS_H_
#define TESTS_SUPPORT_FDS_H_

#include <set>
#include <string>
#include <utility>

namespace loop {
namespace testing {

// True if `fd` is an open descriptor in this process (fcntl(F_GETFD) succeeds).
bool IsOpen(int fd);

// True if `fd` is open and has FD_CLOEXEC set.
bool IsCloexec(int fd);

// True if `fd` is open and has O_NONBLOCK set.
bool IsNonBlocking(int fd);

// The open descriptors of this process (/proc/self/fd, or /dev/fd on
// macOS/BSD), and how many there are.
std::set<int> OpenFdNumbers();
int CountOpenFds();

// A raw pipe for tests that must not depend on the code under test: {read,
// write}, both close-on-exec. Aborts the test binary with a message on failure.
std::pair<int, int> RawPipe();

// A raw AF_UNIX stream socketpair, both ends close-on-exec.
std::pair<int, int> RawSocketPair();

// Closes `fd`, returning "" or a description of the failure.
std::string CloseRaw(int fd);

}  // namespace testing
}  // namespace loop

#endif  // TESTS_SUPPORT_FDS_H_
