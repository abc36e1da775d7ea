// Owning a file descriptor.
//
// Fd is the unique owner of one file descriptor: exactly one Fd closes a given
// descriptor, once, when it is destroyed, reset or assigned over. Moving an Fd
// hands the descriptor over and leaves the source empty (-1). release() gives
// the plain int back to the caller, who then owns it.
//
// Thread safety: like any value type. Different Fd objects may be used from
// different threads; one Fd must not be used by two threads at once.
//
// Unique ownership has a cost this lesson only hints at: once the owner closes
// the descriptor, its number can be handed out again by the kernel, and
// anything that still holds the old number (another thread's int, an epoll
// registration) refers to whatever now has it. Lesson 09 comes back to this.
#ifndef LOOP_FD_H_
#define LOOP_FD_H_

#include <utility>

namespace loop {

class Fd {
 public:
  // Empty: get() == -1.
  Fd() noexcept = default;
  // Takes ownership of `fd` (which may be -1 for "empty").
  explicit Fd(int fd) noexcept;
  // Closes the descriptor if there is one. A close() failure cannot be thrown
  // from here; it is reported on stderr with the errno name.
  ~Fd();

  // `other` becomes empty; nothing is closed.
  Fd(Fd&& other) noexcept;
  // Closes what *this held, then takes other's descriptor. Self-move is a
  // no-op.
  Fd& operator=(Fd&& other) noexcept;

  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const noexcept;
  bool valid() const noexcept;
  explicit operator bool() const noexcept;

  // Gives up ownership without closing and returns the descriptor; *this
  // becomes empty. The caller must close it.
  int release() noexcept;
  // Closes the current descriptor (if any), then owns `fd`.
  void reset(int fd = -1) noexcept;

  // A new, close-on-exec descriptor for the same open file description
  // (fcntl(F_DUPFD_CLOEXEC)). Throws SysError.
  Fd Duplicate() const;

 private:
  int fd_ = -1;
};

// Both ends of a pipe: bytes written to `write` are read from `read`.
struct Pipe {
  Fd read;
  Fd write;
};

// A pipe whose ends are close-on-exec; `flags` may add O_NONBLOCK.
// Throws SysError.
Pipe MakePipe(int flags = 0);

// A connected AF_UNIX stream socket pair, both ends close-on-exec.
// Throws SysError.
std::pair<Fd, Fd> MakeSocketPair();

// Sets O_NONBLOCK on `fd` (which the caller keeps owning). Throws SysError.
void SetNonBlocking(int fd);

}  // namespace loop

#endif  // LOOP_FD_H_
