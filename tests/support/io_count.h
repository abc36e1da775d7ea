// How many read-family and write-family system calls the calling thread has
// made, as the kernel counts them (/proc/thread-self/io: syscr, syscw). For
// tests and benchmarks that count system calls instead of timing them: the
// difference of two readings is exact, whatever the machine's load.
//
//   const IoCount before = ThreadIo();
//   waker.Wake();
//   EXPECT_EQ(ThreadIo().writes - before.writes, 0u);
//
// Reading the file is itself one read: `reads` grows by at least 1 between
// two readings, `writes` does not. Linux only (HasThreadIo() says whether the
// counters exist here). Thread-safe: each thread reads its own counters.
#ifndef TESTS_SUPPORT_IO_COUNT_H_
#define TESTS_SUPPORT_IO_COUNT_H_

#include <cstdint>

namespace loop {

struct IoCount {
  std::uint64_t reads = 0;   // read, readv, pread, ... (syscr)
  std::uint64_t writes = 0;  // write, writev, pwrite, ... (syscw)
};

// The calling thread's counters. Throws SysError if they cannot be read (not
// Linux, or a kernel without task I/O accounting).
IoCount ThreadIo();

// True if ThreadIo() works on this system.
bool HasThreadIo();

}  // namespace loop

#endif  // TESTS_SUPPORT_IO_COUNT_H_
