// A thin owner of one epoll instance.
//
// Epoll owns the epoll file descriptor (close-on-exec) through an Fd and closes
// it when destroyed. It does not own the descriptors registered with it: the
// caller keeps those, and must Delete() a registration before closing its fd
// if the fd has been duplicated (see "Registrations belong to the open file,
// not to the number" in lessons/02_raw_epoll/README.md).
//
// Thread safety: every method may be called from any thread, also while another
// thread is blocked in Wait(), because epoll_ctl and epoll_wait are. Moving or
// destroying an Epoll must not race with any other use of it.
//
// Linux only: on other systems this header declares nothing.
#ifndef LOOP_EPOLL_H_
#define LOOP_EPOLL_H_

#ifdef __linux__

#include <sys/epoll.h>

#include <cstdint>

#include "loop/fd.h"

namespace loop {

class Epoll {
 public:
  // epoll_create1(EPOLL_CLOEXEC). Throws SysError.
  static Epoll Create();

  // Starts watching `fd` for `events` (EPOLLIN, EPOLLOUT, EPOLLET, ...);
  // Wait() reports it with `data`. EPOLL_CTL_ADD; throws SysError (EEXIST if
  // fd is already registered, EBADF if it is not open, EPERM if epoll cannot
  // watch it, e.g. a regular file).
  void Add(int fd, std::uint32_t events, std::uint64_t data);
  // Replaces the events and data of a registered fd (also re-arms
  // EPOLLONESHOT). EPOLL_CTL_MOD; throws SysError (ENOENT if not registered).
  void Modify(int fd, std::uint32_t events, std::uint64_t data);
  // Stops watching `fd`. EPOLL_CTL_DEL; throws SysError (ENOENT if not
  // registered).
  void Delete(int fd);

  // Waits up to timeout_ms (-1 = forever, 0 = just check). Retries EINTR with
  // the time that remains. Returns how many entries of events[0..max_events)
  // were filled.
  int Wait(epoll_event* events, int max_events, int timeout_ms);

  // The epoll descriptor, still owned by this object.
  int fd() const noexcept;

 private:
  explicit Epoll(Fd fd) noexcept;

  Fd fd_;
};

}  // namespace loop

#endif  // __linux__

#endif  // LOOP_EPOLL_H_
