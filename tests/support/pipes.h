// Non-blocking fd pairs on loop::Fd (lesson 01), as edge-triggered consumers
// need: a consumer drains to EAGAIN, which a blocking fd never returns.
//
// On the library's Fd (//loop:fd), so any lesson from 02 on may use
// them. Setup failures throw SysError, which gtest reports with the errno name.
#ifndef TESTS_SUPPORT_PIPES_H_
#define TESTS_SUPPORT_PIPES_H_

#include <fcntl.h>

#include <utility>

#include "loop/fd.h"

namespace loop {
namespace testing {

// A pipe whose two ends are O_NONBLOCK (and close-on-exec, as every Pipe).
inline Pipe NonBlockingPipe() { return MakePipe(O_NONBLOCK); }

// A socketpair whose two ends are O_NONBLOCK.
inline std::pair<Fd, Fd> NonBlockingSocketPair() {
  auto pair = MakeSocketPair();
  SetNonBlocking(pair.first.get());
  SetNonBlocking(pair.second.get());
  return pair;
}

}  // namespace testing
}  // namespace loop

#endif  // TESTS_SUPPORT_PIPES_H_
