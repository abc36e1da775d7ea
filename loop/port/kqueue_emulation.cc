// kqueue(2) for Linux, emulated on epoll(7) and eventfd(2). The API is in
// include/sys/event.h; docs/kqueue-emulation.md has the diagram and the list of
// differences from a real kqueue.
//
// How it works:
//   - The descriptor kqueue() returns IS an epoll instance: close(), dup() and
//     poll() work on it as on any descriptor, and a thread blocked in kevent()
//     is blocked in epoll_wait() on it.
//   - EVFILT_READ, EVFILT_WRITE: each watched fd is in the epoll once, edge-
//     triggered, with the interests of its enabled filters. A level-triggered
//     filter (no EV_CLEAR) is re-armed with EPOLL_CTL_MOD after it is returned,
//     which makes epoll check the fd again: the event comes back while its
//     condition holds, as on BSD.
//   - EVFILT_USER: not tied to any fd. Triggered events wait in a queue in
//     memory. To wake a thread blocked in epoll_wait(), each kqueue owns an
//     eventfd (`wake_fd_`), registered in its epoll, and writes to it.
//   - Finding a kqueue's state from any of its descriptors, dups included: its
//     eventfd is registered in exactly one epoll, its own, so
//     epoll_ctl(fd, EPOLL_CTL_MOD, wake_fd_) succeeds exactly when `fd` is that
//     kqueue. (fstat cannot tell epoll instances apart: they share one inode.)
//   - Freeing that state after the last descriptor is closed: Linux does not
//     tell us, so each kqueue() call first frees the kqueues no open descriptor
//     refers to any more (KqueueTable::Reap).
//
// Locking: KqueueTable::mu_ guards the table of kqueues, EmulatedKqueue::mu_
// one kqueue's registrations and queue. The one blocking call, epoll_wait(),
// runs with no lock held.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>  // SIOCOUTQ
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/event.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "loop/sys_error.h"

namespace {

// Some failures cannot be returned to anyone: a destructor, a wake-up, a
// drain. Each of them means that the program closed a descriptor this
// emulation owns (a double close elsewhere), and the kqueue may lose events.
// Say so on stderr, as lesson 01's Fd does for a failed close.
void ReportLostDescriptor(const std::string& what, int err) {
  const std::string line =
      "kqueue emulation: " + loop::DescribeSysError(what, err) +
      "; was a descriptor this kqueue owns closed by someone else?\n";
  // write(2), not stdio: this may run in a child right after fork(), where
  // stderr's lock may still be held by a thread that no longer exists. If
  // stderr is gone too, there is nobody left to tell.
  (void)!write(STDERR_FILENO, line.data(), line.size());
}

// close() of a descriptor the emulation owns, reporting a failure.
void CloseOwned(int fd, const char* what) {
  if (close(fd) != 0) {
    ReportLostDescriptor(
        "close(" + std::string(what) + " " + std::to_string(fd) + ")", errno);
  }
}

// epoll data of the wake eventfd. Watched fds use (generation << 32 | fd) with
// a generation >= 1, so the two never collide.
constexpr uint64_t kWakeData = ~uint64_t{0};

// The flags a registration keeps and reports with its events (FreeBSD keeps
// every flag except the actions EV_ADD, EV_DELETE, EV_ENABLE and EV_DISABLE).
constexpr unsigned short kKeptFlags =
    EV_ONESHOT | EV_CLEAR | EV_DISPATCH | EV_RECEIPT;

// Flags the kernel owns in output; FreeBSD clears them from every change.
constexpr unsigned short kSystemFlags = 0xF000;

// Every flag a change may carry. The others (FreeBSD's EV_FORCEONESHOT and
// EV_KEEPUDATA, macOS's EV_UDATA_SPECIFIC, ...) are EINVAL: refused, not
// ignored, so that code relying on one fails at once.
constexpr unsigned short kKnownFlags =
    EV_ADD | EV_DELETE | EV_ENABLE | EV_DISABLE | kKeptFlags;

// Every EVFILT_USER fflag; EVFILT_READ and EVFILT_WRITE accept none (not
// NOTE_LOWAT, a low-water mark this emulation does not implement).
constexpr unsigned int kKnownUserFflags =
    NOTE_FFCTRLMASK | NOTE_TRIGGER | NOTE_FFLAGSMASK;

// FreeBSD's manual: "The timeout value is limited to 24 hours".
constexpr int64_t kMaxTimeoutMs = 24LL * 60 * 60 * 1000;

// epoll_wait() batch size; a kevent() call returns at most this many fd events.
constexpr int kBatch = 64;

int Fail(int error) {
  errno = error;
  return -1;
}

// One registration: a (ident, filter) pair.
struct Knote {
  // ident, filter, kept flags, udata and ext: the start of every event.
  struct kevent kev;
  bool enabled = true;
  bool queued = false;  // waiting in EmulatedKqueue::ready_
  // EVFILT_USER only.
  bool triggered = false;
  unsigned int user_fflags = 0;  // the low 24 bits
  int64_t user_data = 0;
};

// A watched fd: its one epoll registration and up to two filters.
struct FdWatch {
  uint32_t gen = 0;     // high half of the epoll data; new per EPOLL_CTL_ADD
  uint32_t events = 0;  // interests registered with epoll (without EPOLLET)
  std::unique_ptr<Knote> read, write;
};

// A queued event not yet returned: a triggered EVFILT_USER event, or an fd
// event epoll reported when the caller's eventlist was already full.
struct Ready {
  short filter;
  uintptr_t ident;
};

bool Fires(short filter, uint32_t revents) {
  if (filter == EVFILT_READ) {
    return revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  }
  return revents & (EPOLLOUT | EPOLLHUP | EPOLLERR);
}

// Bytes ready to read, or 0 where Linux cannot tell (FIONREAD unsupported).
int64_t BytesReadable(int fd) {
  int n = 0;
  return ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? n : 0;
}

// Space left in the write buffer of a pipe or socket; 0 for other kinds of fd.
int64_t BytesWritable(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return 0;
  int64_t capacity = 0;
  int queued = 0;
  if (S_ISFIFO(st.st_mode)) {
    capacity = fcntl(fd, F_GETPIPE_SZ);
    if (ioctl(fd, FIONREAD, &queued) != 0) return 0;
  } else if (S_ISSOCK(st.st_mode)) {
    int sndbuf = 0;
    socklen_t len = sizeof(sndbuf);
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) != 0) return 0;
    if (ioctl(fd, SIOCOUTQ, &queued) != 0) return 0;
    capacity = sndbuf;
  }
  return std::max<int64_t>(0, capacity - queued);
}

// When a kevent() call must stop waiting.
class Deadline {
 public:
  // nullptr: never.
  explicit Deadline(const struct timespec* timeout) {
    if (timeout == nullptr) return;
    forever_ = false;
    const int64_t ns = timeout->tv_sec >= kMaxTimeoutMs / 1000
                           ? kMaxTimeoutMs * 1000000
                           : timeout->tv_sec * 1000000000LL + timeout->tv_nsec;
    end_ns_ = NowNs() + ns;
  }
  // For epoll_wait(): -1 (forever), or the milliseconds left, rounded up so
  // that a wait never ends early (0 once the deadline has passed).
  int RemainingMs() const {
    if (forever_) return -1;
    const int64_t left = end_ns_ - NowNs();
    return left <= 0 ? 0 : static_cast<int>((left + 999999) / 1000000);
  }

 private:
  static int64_t NowNs() {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000000000LL + now.tv_nsec;
  }
  bool forever_ = true;
  int64_t end_ns_ = 0;
};

// The state of one kqueue. Owns `wake_fd_`; does not own the epoll descriptor
// (the caller of kqueue() does), so every method takes the descriptor the
// caller used. Thread-safe.
class EmulatedKqueue {
 public:
  explicit EmulatedKqueue(int wake_fd) : wake_fd_(wake_fd) {}
  ~EmulatedKqueue() { CloseOwned(wake_fd_, "kqueue's eventfd"); }
  EmulatedKqueue(const EmulatedKqueue&) = delete;
  EmulatedKqueue& operator=(const EmulatedKqueue&) = delete;

  // True if `epfd` refers to this kqueue's epoll instance: our eventfd is
  // registered there and nowhere else. Re-registering it with the same settings
  // changes nothing.
  bool IsBehind(int epfd, int* error) const {
    struct epoll_event ev = {};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = kWakeData;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, wake_fd_, &ev) == 0) return true;
    *error = errno;
    return false;
  }

  // Closes this process's copy of the eventfd (used in a fork()ed child).
  void ForgetInChild() { CloseOwned(wake_fd_, "kqueue's eventfd"); }

  // Applies one change; returns 0 or the errno for it.
  int Apply(int epfd, const struct kevent& change) {
    std::lock_guard<std::mutex> lock(mu_);
    if (change.flags & ~kKnownFlags) return EINVAL;
    switch (change.filter) {
      case EVFILT_READ:
      case EVFILT_WRITE:
        if (change.fflags != 0) return EINVAL;
        return ApplyFd(epfd, change);
      case EVFILT_USER:
        if (change.fflags & ~kKnownUserFflags) return EINVAL;
        return ApplyUser(change);
      default:
        return EINVAL;
    }
  }

  // Returns up to `nevents` (> 0) events, waiting for the first one until
  // `deadline`.
  int Scan(int epfd, struct kevent* out, int nevents,
           const Deadline& deadline) {
    for (;;) {
      int n;
      {
        std::lock_guard<std::mutex> lock(mu_);
        n = TakeReady(epfd, out, nevents);
      }
      const int timeout_ms = n > 0 ? 0 : deadline.RemainingMs();
      struct epoll_event items[kBatch];
      const int want = std::min(nevents - n, kBatch);
      const int got = want > 0 ? epoll_wait(epfd, items, want, timeout_ms) : 0;
      const int error = errno;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (got > 0) n += Harvest(epfd, items, got, out + n, nevents - n);
        // Events left in the queue (no room here, or level-triggered user
        // events that stay pending) are for the next kevent() call, maybe in
        // another thread: keep the epoll readable.
        if (!ready_.empty()) Wake();
      }
      if (got < 0) return n > 0 ? n : Fail(error);  // EINTR, as BSD: no restart
      if (n > 0 || timeout_ms == 0) return n;
      // Woken with nothing to return (our eventfd, or a filter whose condition
      // no longer holds): wait again for the rest of the timeout.
    }
  }

 private:
  int ApplyFd(int epfd, const struct kevent& change) {
    // Our eventfd's number is not the caller's: on BSD it would not be open.
    if (change.ident > static_cast<uintptr_t>(INT32_MAX) ||
        static_cast<int>(change.ident) == wake_fd_) {
      return EBADF;
    }
    const int fd = static_cast<int>(change.ident);
    auto it = fds_.find(fd);
    Knote* kn = nullptr;
    if (it != fds_.end()) kn = Slot(it->second, change.filter).get();
    if (kn == nullptr) {
      if (!(change.flags & EV_ADD)) {
        return fcntl(fd, F_GETFD) == -1 ? EBADF : ENOENT;
      }
      return AddFd(epfd, fd, change);
    }
    FdWatch& w = it->second;
    if (change.flags & EV_DELETE) {
      Slot(w, change.filter).reset();
      Unqueue(change.filter, change.ident);
      // ENOENT if the fd was closed and its number reused, as on BSD.
      return Sync(epfd, fd, w, false);
    }
    // Modify: BSD updates udata and re-runs the filter. The behaviour flags
    // (EV_CLEAR, ...) stay those of the EV_ADD that created the registration,
    // as on FreeBSD.
    kn->kev.udata = change.udata;
    if (change.flags & EV_DISABLE) kn->enabled = false;
    if (change.flags & EV_ENABLE) kn->enabled = true;
    const int error = Sync(epfd, fd, w, true);
    if (error == ENOENT && (change.flags & EV_ADD)) {
      // The fd we knew was closed (so epoll dropped it) and the number now
      // names another file: register afresh, as BSD would, whose close()
      // removed the old registration.
      return AddFd(epfd, fd, change);
    }
    return error;
  }

  int AddFd(int epfd, int fd, const struct kevent& change) {
    Slot(fds_[fd], change.filter) = MakeKnote(change);
    const int error = Sync(epfd, fd, fds_[fd], true);
    if (error != ENOENT) return error;
    // Our registration of this number was stale (see ApplyFd) and Sync()
    // dropped it: start over with only the new filter.
    Slot(fds_[fd], change.filter) = MakeKnote(change);
    return Sync(epfd, fd, fds_[fd], true);
  }

  static std::unique_ptr<Knote> MakeKnote(const struct kevent& change) {
    std::unique_ptr<Knote> kn(new Knote);
    kn->kev = change;
    kn->kev.flags = change.flags & kKeptFlags;
    kn->kev.fflags = 0;
    kn->kev.data = 0;
    kn->enabled = !(change.flags & EV_DISABLE);
    return kn;
  }

  // Makes epoll's registration of `fd` match `w` (EPOLL_CTL_ADD, MOD or DEL).
  // `rearm` forces a MOD, which makes epoll check the fd again, as BSD re-runs
  // the filter. Erases `w` when it has no filter left or on error (epoll no
  // longer knows the fd, or never did), so callers must not use `w` after.
  int Sync(int epfd, int fd, FdWatch& w, bool rearm) {
    if (!w.read && !w.write) {
      const int result =
          w.gen == 0 ? 0 : epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr);
      const int error = result == 0 ? 0 : errno;
      fds_.erase(fd);
      return error;
    }
    uint32_t events = 0;
    if (w.read && w.read->enabled) events |= EPOLLIN | EPOLLRDHUP;
    if (w.write && w.write->enabled) events |= EPOLLOUT;
    if (w.gen != 0 && events == w.events && !rearm) return 0;
    const bool add = w.gen == 0;
    if (add && ++next_gen_ == 0) ++next_gen_;  // generation 0 means "not added"
    if (add) w.gen = next_gen_;
    struct epoll_event ev = {};
    ev.events = events | EPOLLET;
    ev.data.u64 = (uint64_t{w.gen} << 32) | static_cast<uint32_t>(fd);
    int result = epoll_ctl(epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
    if (result != 0 && add && errno == EEXIST) {
      // epoll kept a registration we dropped after an error: take it over.
      result = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    }
    if (result != 0) {
      const int error = errno;
      fds_.erase(fd);
      return error;
    }
    w.events = events;
    return 0;
  }

  int ApplyUser(const struct kevent& change) {
    auto it = users_.find(change.ident);
    if (it == users_.end()) {
      if (!(change.flags & EV_ADD)) return ENOENT;
      Knote& kn = users_[change.ident];
      kn.kev = change;
      kn.kev.flags = change.flags & kKeptFlags;
      kn.enabled = !(change.flags & EV_DISABLE);
      // FreeBSD keeps the fflags given with EV_ADD and ignores NOTE_TRIGGER
      // there (macOS fires): trigger with a separate change to be portable.
      kn.user_fflags = change.fflags & NOTE_FFLAGSMASK;
      kn.user_data = change.data;
      return 0;
    }
    Knote& kn = it->second;
    if (change.flags & EV_DELETE) {
      Unqueue(EVFILT_USER, change.ident);
      users_.erase(it);
      return 0;
    }
    kn.kev.udata = change.udata;
    if (change.fflags & NOTE_TRIGGER) kn.triggered = true;
    const unsigned int value = change.fflags & NOTE_FFLAGSMASK;
    switch (change.fflags & NOTE_FFCTRLMASK) {
      case NOTE_FFAND:
        kn.user_fflags &= value;
        break;
      case NOTE_FFOR:
        kn.user_fflags |= value;
        break;
      case NOTE_FFCOPY:
        kn.user_fflags = value;
        break;
      default:  // NOTE_FFNOP
        break;
    }
    kn.user_data = change.data;
    // FreeBSD: EV_CLEAR in a change resets the trigger, even one made by the
    // same change.
    if (change.flags & EV_CLEAR) kn.triggered = false;
    if (change.flags & EV_DISABLE) kn.enabled = false;
    if (change.flags & EV_ENABLE) kn.enabled = true;
    if (kn.triggered && kn.enabled) Enqueue(kn);
    return 0;
  }

  static std::unique_ptr<Knote>& Slot(FdWatch& w, short filter) {
    return filter == EVFILT_READ ? w.read : w.write;
  }

  void Enqueue(Knote& kn) {
    if (kn.queued) return;
    kn.queued = true;
    ready_.push_back({kn.kev.filter, kn.kev.ident});
    Wake();
  }

  void Unqueue(short filter, uintptr_t ident) {
    ready_.erase(std::remove_if(ready_.begin(), ready_.end(),
                                [&](const Ready& r) {
                                  return r.filter == filter && r.ident == ident;
                                }),
                 ready_.end());
  }

  // Makes a thread blocked in epoll_wait() on this kqueue return.
  void Wake() {
    const uint64_t one = 1;
    // EAGAIN (counter full) is fine: the eventfd is readable anyway. EINTR
    // cannot happen: the eventfd is non-blocking.
    if (write(wake_fd_, &one, sizeof(one)) < 0 && errno != EAGAIN) {
      ReportLostDescriptor(
          "write(kqueue's eventfd " + std::to_string(wake_fd_) + ")", errno);
    }
  }

  // Returns queued events, each at most once per call (a level-triggered user
  // event goes back to the end of the queue, for the next call).
  int TakeReady(int epfd, struct kevent* out, int room) {
    int n = 0;
    for (size_t todo = ready_.size(); todo > 0 && n < room; --todo) {
      const Ready r = ready_.front();
      ready_.pop_front();
      if (r.filter == EVFILT_USER) {
        auto it = users_.find(r.ident);
        if (it == users_.end()) continue;
        Knote& kn = it->second;
        kn.queued = false;
        if (!kn.enabled || !kn.triggered) continue;
        out[n] = kn.kev;
        out[n].fflags = kn.user_fflags;
        out[n].data = kn.user_data;
        ++n;
        if (kn.kev.flags & EV_ONESHOT) {
          users_.erase(it);
          continue;
        }
        if (kn.kev.flags & EV_CLEAR) kn.triggered = false;
        if (kn.kev.flags & EV_DISPATCH) kn.enabled = false;
        if (kn.triggered && kn.enabled) {
          kn.queued = true;
          ready_.push_back(r);
        }
        continue;
      }
      // An fd event that did not fit last time. BSD re-runs the filter before
      // it returns an event; poll() is our filter here.
      const int fd = static_cast<int>(r.ident);
      auto it = fds_.find(fd);
      if (it == fds_.end()) continue;
      Knote* kn = Slot(it->second, r.filter).get();
      if (kn == nullptr) continue;
      kn->queued = false;
      if (!kn->enabled) continue;
      struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP, 0};
      if (poll(&p, 1, 0) != 1 || (p.revents & POLLNVAL)) continue;
      if (!Fires(r.filter, p.revents)) continue;
      bool rearm = false;
      out[n++] = Deliver(it->second, r.filter, static_cast<uint16_t>(p.revents),
                         &rearm);
      Sync(epfd, fd, it->second, rearm);
    }
    return n;
  }

  // Turns what epoll_wait() returned into events; what does not fit is queued.
  int Harvest(int epfd, const struct epoll_event* items, int count,
              struct kevent* out, int room) {
    int n = 0;
    for (int i = 0; i < count; ++i) {
      const uint64_t data = items[i].data.u64;
      if (data == kWakeData) {
        uint64_t value;
        // Drained, so that the next write makes it readable again. EAGAIN:
        // another thread drained it first.
        if (read(wake_fd_, &value, sizeof(value)) < 0 && errno != EAGAIN) {
          ReportLostDescriptor(
              "read(kqueue's eventfd " + std::to_string(wake_fd_) + ")", errno);
        }
        continue;
      }
      const int fd = static_cast<int>(data & 0xffffffffu);
      auto it = fds_.find(fd);
      // Not ours any more: deleted, or an earlier file with this number that
      // epoll still watches because a dup of it is open.
      if (it == fds_.end() || it->second.gen != data >> 32) continue;
      FdWatch& w = it->second;
      bool rearm = false;
      for (short filter : {EVFILT_READ, EVFILT_WRITE}) {
        Knote* kn = Slot(w, filter).get();
        if (kn == nullptr || !kn->enabled || kn->queued) continue;
        if (!Fires(filter, items[i].events)) continue;
        if (n == room) {
          kn->queued = true;
          ready_.push_back({filter, static_cast<uintptr_t>(fd)});
          continue;
        }
        out[n++] = Deliver(w, filter, items[i].events, &rearm);
      }
      Sync(epfd, fd, w, rearm);
    }
    return n;
  }

  // The event for one fd filter that fired; then does what EV_ONESHOT,
  // EV_DISPATCH or level triggering ask for. May delete the knote: the caller
  // then calls Sync().
  struct kevent Deliver(FdWatch& w, short filter, uint32_t revents,
                        bool* rearm) {
    std::unique_ptr<Knote>& slot = Slot(w, filter);
    Knote& kn = *slot;
    struct kevent ev = kn.kev;
    const int fd = static_cast<int>(kn.kev.ident);
    bool eof;
    if (filter == EVFILT_READ) {
      eof = revents & (EPOLLRDHUP | EPOLLHUP);
      ev.data = BytesReadable(fd);
    } else {
      eof = revents & (EPOLLHUP | EPOLLERR);
      ev.data = eof ? 0 : BytesWritable(fd);
    }
    if (eof) ev.flags |= EV_EOF;
    if (kn.kev.flags & EV_ONESHOT) {
      slot.reset();
    } else if (kn.kev.flags & EV_DISPATCH) {
      kn.enabled = false;
    } else if (!(kn.kev.flags & EV_CLEAR)) {
      *rearm = true;  // level-triggered: ask epoll to look again
    }
    return ev;
  }

  const int wake_fd_;
  std::mutex mu_;
  std::unordered_map<int, FdWatch> fds_;
  std::map<uintptr_t, Knote> users_;
  std::deque<Ready> ready_;
  uint32_t next_gen_ = 0;
};

// Every kqueue of this process. Thread-safe. Never destroyed, so that kevent()
// works from threads still running while the process exits.
class KqueueTable {
 public:
  static KqueueTable& Get() {
    static KqueueTable* table = new KqueueTable;
    return *table;
  }

  int Create() {
    std::lock_guard<std::mutex> lock(mu_);
    Reap();
    const int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) return -1;
    const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = kWakeData;
    if (wake < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, wake, &ev) != 0) {
      const int error = errno;
      if (wake >= 0) CloseOwned(wake, "eventfd");
      CloseOwned(epfd, "epoll");
      return Fail(error);
    }
    auto kq = std::make_shared<EmulatedKqueue>(wake);
    all_.push_back(kq);
    by_fd_[epfd] = kq;
    return epfd;
  }

  // The kqueue `fd` refers to, or nullptr.
  std::shared_ptr<EmulatedKqueue> Find(int fd) {
    std::shared_ptr<EmulatedKqueue> cached;
    std::vector<std::shared_ptr<EmulatedKqueue>> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = by_fd_.find(fd);
      if (it != by_fd_.end()) cached = it->second;
      all = all_;
    }
    int error = 0;
    if (cached && cached->IsBehind(fd, &error)) return cached;
    // EBADF: not open; EINVAL: not an epoll instance.
    if (error == EBADF || error == EINVAL) return nullptr;
    // A dup we have not seen yet, or a number that now names another kqueue.
    for (const auto& kq : all) {
      if (kq == cached) continue;
      if (kq->IsBehind(fd, &error)) {
        std::lock_guard<std::mutex> lock(mu_);
        by_fd_[fd] = kq;
        return kq;
      }
      if (error != ENOENT) return nullptr;
    }
    return nullptr;
  }

 private:
  KqueueTable() {
    pthread_atfork([] { Get().mu_.lock(); }, [] { Get().mu_.unlock(); },
                   [] { Get().ForgetAllInChild(); });
  }

  // Frees every kqueue that no open descriptor refers to any more. Called with
  // mu_ held. Checks the numbers each kqueue was seen under first; only those
  // not found there cost a walk over all open descriptors. Without /proc,
  // nothing is freed.
  void Reap() {
    std::vector<std::shared_ptr<EmulatedKqueue>> unseen;
    for (auto it = by_fd_.begin(); it != by_fd_.end();) {
      int error;
      if (it->second->IsBehind(it->first, &error)) {
        ++it;
      } else {
        it = by_fd_.erase(it);
      }
    }
    for (const auto& kq : all_) {
      bool seen =
          std::any_of(by_fd_.begin(), by_fd_.end(),
                      [&](const auto& entry) { return entry.second == kq; });
      if (!seen) unseen.push_back(kq);
    }
    if (unseen.empty()) return;
    DIR* dir = opendir("/proc/self/fd");
    if (dir == nullptr) return;
    while (struct dirent* entry = readdir(dir)) {
      if (unseen.empty()) break;
      char* end;
      const long fd = strtol(entry->d_name, &end, 10);
      if (*end != '\0' || end == entry->d_name || fd == dirfd(dir)) continue;
      for (auto it = unseen.begin(); it != unseen.end(); ++it) {
        int error;
        if ((*it)->IsBehind(static_cast<int>(fd), &error)) {
          by_fd_[static_cast<int>(fd)] = *it;
          unseen.erase(it);
          break;
        }
        if (error != ENOENT) break;  // not an epoll at all
      }
    }
    closedir(dir);
    for (const auto& dead : unseen) {
      all_.erase(std::find(all_.begin(), all_.end(), dead));
    }
  }

  // After fork(): BSD does not pass kqueues on to the child. Close the child's
  // copies of the descriptors we know, and forget every kqueue. The objects
  // are kept, not destroyed: another thread of the parent may have held one of
  // their locks at the fork.
  void ForgetAllInChild() {
    for (const auto& entry : by_fd_) {
      int error;
      if (entry.second->IsBehind(entry.first, &error)) {
        CloseOwned(entry.first, "kqueue");
      }
    }
    for (const auto& kq : all_) kq->ForgetInChild();
    forgotten_.insert(forgotten_.end(), all_.begin(), all_.end());
    by_fd_.clear();
    all_.clear();
    mu_.unlock();
  }

  std::mutex mu_;
  std::vector<std::shared_ptr<EmulatedKqueue>> all_;
  // A descriptor number each kqueue was seen under: a cache, checked on use.
  std::unordered_map<int, std::shared_ptr<EmulatedKqueue>> by_fd_;
  // Kqueues of the parent, in a fork()ed child.
  std::vector<std::shared_ptr<EmulatedKqueue>> forgotten_;
};

}  // namespace

extern "C" int kqueue(void) { return KqueueTable::Get().Create(); }

namespace {
thread_local unsigned long kevent_calls = 0;
}  // namespace

extern "C" unsigned long kqueue_emulation_kevent_calls(void) {
  return kevent_calls;
}

extern "C" int kevent(int kq, const struct kevent* changelist, int nchanges,
                      struct kevent* eventlist, int nevents,
                      const struct timespec* timeout) {
  ++kevent_calls;
  std::shared_ptr<EmulatedKqueue> q =
      kq < 0 ? nullptr : KqueueTable::Get().Find(kq);
  if (!q) return Fail(EBADF);
  if (nchanges < 0 || nevents < 0) return Fail(EINVAL);
  // Only NULL can be caught; another bad pointer crashes, as in any library.
  if ((nchanges > 0 && changelist == nullptr) ||
      (nevents > 0 && eventlist == nullptr)) {
    return Fail(EFAULT);
  }
  int nerrors = 0;
  for (int i = 0; i < nchanges; ++i) {
    // A copy: changelist and eventlist may be the same array.
    struct kevent change = changelist[i];
    if (change.filter == 0) continue;  // FreeBSD skips these
    change.flags &= ~kSystemFlags;
    const int error = q->Apply(kq, change);
    if (error == 0 && !(change.flags & EV_RECEIPT)) continue;
    // "If an error occurs while processing an element of the changelist and
    // there is enough room in the eventlist, then the event will be placed in
    // the eventlist with EV_ERROR set in flags and the system error in data."
    if (nevents == 0) return error == 0 ? 0 : Fail(error);
    change.flags = EV_ERROR;
    change.data = error;
    eventlist[nerrors++] = change;
    --nevents;
  }
  if (nerrors > 0) return nerrors;
  if (nevents == 0) return 0;  // "kevent() will return immediately"
  if (timeout != nullptr && (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
                             timeout->tv_nsec >= 1000000000)) {
    return Fail(EINVAL);
  }
  return q->Scan(kq, eventlist, nevents, Deadline(timeout));
}
