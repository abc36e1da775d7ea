// Registry: the part of a Poll that every thread may use.
//
//   the waiting thread         any thread
//          │                        │
//          ▼                        ▼
//   Poll::Wait(events)      Registry::Register(fd, token, interest)
//          │                        │  checks its own table first, so
//          ▼                        ▼  every backend gives the same errors
//   Selector::Select ◀─kernel─▶ Selector::Register / Reregister / Deregister
//
// A Registry is owned by its Poll (poll.h) and handed out as Registry&. It
// keeps a table of the fd numbers registered through it, so that every backend
// reports the same errors, each with the errno name and what was being done:
//   - Register of an fd already in the table: SysError EEXIST (epoll would
//     agree; kqueue would silently replace the registration);
//   - Reregister or Deregister of an fd not in the table: SysError ENOENT;
//   - any call with a closed or negative fd: SysError EBADF, asked of fcntl
//     before the kernel sees the fd.
// A call that throws changes nothing, except as noted on Deregister.
//
// Ownership: the caller keeps owning every fd it registers. Deregister an fd
// *before* closing it: closing first leaves the fd number in the table (and, on
// epoll, leaves the kernel registration alive while any dup of the fd is open;
// see lessons/05_registry/README.md).
//
// Thread safety: every method may be called from any thread, also while
// another thread is blocked in Poll::Wait; a registration made then is reported
// by that blocked Wait.
#ifndef LOOP_REGISTRY_H_
#define LOOP_REGISTRY_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "loop/event.h"
#include "loop/selector.h"

namespace loop {

// Work the Poll does for a source when Wait() reports its token, before Wait()
// returns. A Waker's source is emptied and its pending flag cleared there
// (loop/waker.cc), so that a program that uses a Waker never drains it, as in
// mio.
class ReportHook {
 public:
  virtual ~ReportHook() = default;
  // Runs on the thread in Poll::Wait. A SysError it throws leaves Wait.
  virtual void Reported() = 0;
};

class Registry {
 public:
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Starts watching `fd` (edge-triggered); events for it carry `token`. Throws
  // SysError: EBADF if `fd` is not open, EEXIST if it is already registered
  // here, or the backend's own error (epoll refuses regular files with EPERM).
  void Register(int fd, Token token, Interest interest);

  // Replaces the token and interest of a registered fd. Throws SysError: EBADF
  // if `fd` is not open, ENOENT if it is not registered here.
  void Reregister(int fd, Token token, Interest interest);

  // Stops watching `fd`. Throws SysError: ENOENT if `fd` is not registered
  // here; EBADF if `fd` is not open. An fd closed while registered is removed
  // from the table before EBADF is thrown, so its number can be registered
  // again; and if its number already names a new fd, Deregister forgets the old
  // entry without complaint (the kernel has no registration for the new fd).
  void Deregister(int fd);

  Backend backend() const;

  // The epoll or kqueue fd, owned by the Poll and valid while it lives.
  int selector_fd() const;

  // Keeps `resource` alive until the Poll is destroyed; it is released after
  // the selector fd is closed. Lesson 09 uses this so that a wake source lives
  // exactly as long as the Poll that watches it.
  void Retain(std::shared_ptr<void> resource);

  // From now on every Poll::Wait that reports `token` runs hook->Reported()
  // once before it returns. The hook is kept, like a Retain()ed resource, until
  // the Poll is destroyed. Lesson 10's Waker is the one user.
  void OnReport(Token token, std::shared_ptr<ReportHook> hook);

 private:
  friend class Poll;

  struct Registration {
    Token token;
    Interest interest;
  };

  // `selector` must outlive the Registry; Poll owns both.
  explicit Registry(Selector& selector);

  // For ~Poll: hands over everything Retain()ed and every report hook.
  std::vector<std::shared_ptr<void>> TakeRetained();

  // For Poll::Wait, after the selector filled `events`: runs the report hooks
  // of the tokens among them.
  void RunReportHooks(const Events& events);

  Selector& selector_;

  // Held across the kernel call too, so that the table and the kernel never
  // disagree (of two threads registering one fd, exactly one wins). Poll::Wait
  // never takes it.
  std::mutex mu_;
  std::unordered_map<int, Registration> registrations_;  // guarded by mu_
  std::vector<std::shared_ptr<void>> retained_;          // guarded by mu_

  // Report hooks have a lock of their own, so that Poll::Wait never waits for
  // a Register that is talking to the kernel. has_hooks_ spares a Poll without
  // hooks even that lock.
  std::mutex hooks_mu_;
  std::vector<std::pair<Token, std::shared_ptr<ReportHook>>>
      hooks_;  // guarded by hooks_mu_
  std::atomic<bool> has_hooks_{false};
};

}  // namespace loop

#endif  // LOOP_REGISTRY_H_
