// The pipe wake source (any system): Wake() writes one byte, the Poll's drain
// reads the pipe empty. See loop/wake_source.h.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <utility>

#include "loop/fd.h"
#include "loop/sys_error.h"
#include "loop/wake_source.h"

namespace loop {
namespace internal {
namespace {

class PipeWake : public WakeMechanism {
 public:
  PipeWake(Registry& registry, Token token) {
    Pipe pipe = MakePipe(O_NONBLOCK);
    registry.Register(pipe.read.get(), token, Interest::kReadable);
    read_ = std::move(pipe.read);
    write_ = std::move(pipe.write);
  }

  void Signal() override {
    const char byte = 1;
    ssize_t n;
    do {
      n = write(write_.get(), &byte, 1);
    } while (n == -1 && errno == EINTR);
    // EAGAIN: the pipe is full, so the loop has plenty to read already.
    if (n == -1 && errno != EAGAIN) {
      throw SysError("write(pipe " + std::to_string(write_.get()) + ")", errno);
    }
  }

  void Consume() override {
    char buffer[64];
    for (;;) {
      const ssize_t n = read(read_.get(), buffer, sizeof buffer);
      // A read that returns less than it asked for has emptied the pipe: a
      // pipe gives what it holds, up to the count. So one read is enough (the
      // pending flag lets one byte in per drain), and a full buffer reads on.
      if (n == static_cast<ssize_t>(sizeof buffer)) continue;
      if (n > 0) return;
      if (n == 0) return;  // End of file: impossible while write_ is open.
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;  // Empty: the next Signal() is a new event.
      throw SysError("read(pipe " + std::to_string(read_.get()) + ")", errno);
    }
  }

 private:
  Fd read_;
  Fd write_;
};

}  // namespace

std::unique_ptr<WakeMechanism> MakePipeWake(Registry& registry, Token token) {
  return std::make_unique<PipeWake>(registry, token);
}

}  // namespace internal
}  // namespace loop
