// Lesson 11, the given half of EventLoop: construction and shutdown, the turn
// (Run), fd callbacks, Stop and signals. You write the other half in
// event_loop.cc; read Run() below first, it calls your three steps.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

#include "loop/event_loop.h"
#include "loop/sys_error.h"

namespace loop {
namespace {

constexpr Token kWakeToken{1};
constexpr Token kSignalToken{2};
constexpr std::uint64_t kFirstWatchToken = 16;

WakerKind DefaultWakerKind(Backend backend) {
  const std::vector<WakerKind> kinds = AvailableWakerKinds(backend);
  for (WakerKind kind : kinds) {
    if (backend == Backend::kKqueue && kind == WakerKind::kKqueueUser)
      return kind;
  }
  return kinds.front();
}

std::shared_ptr<internal::LoopShared> MakeShared(Poll& poll,
                                                 const EventLoop::Options& o) {
  return std::make_shared<internal::LoopShared>(
      Waker(poll.registry(), kWakeToken,
            o.waker_kind.value_or(DefaultWakerKind(o.backend))));
}

// The write end of the pipe of the loop that owns the signals, or -1. A
// signal handler may only do async-signal-safe things: read this lock-free
// atomic, write(2), and save/restore errno.
std::atomic<int> g_signal_write_fd{-1};
std::atomic<EventLoop*> g_signal_owner{nullptr};
static_assert(std::atomic<int>::is_always_lock_free, "the handler reads it");

extern "C" void StopLoopOnSignal(int signo) {
  const int saved = errno;
  const int fd = g_signal_write_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    const unsigned char byte = static_cast<unsigned char>(signo);
    // EAGAIN (pipe full) is fine: bytes are already waiting to stop the loop.
    ssize_t ignored = write(fd, &byte, 1);
    (void)ignored;
  }
  errno = saved;
}

}  // namespace

const char* PostResultName(PostResult result) {
  switch (result) {
    case PostResult::kPosted:
      return "kPosted";
    case PostResult::kLoopGone:
      return "kLoopGone";
  }
  return "unknown";
}

PostResult LoopHandle::Stop() const {
  if (!shared_) return PostResult::kLoopGone;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    if (shared_->gone) return PostResult::kLoopGone;
    shared_->stop_requested = true;
  }
  shared_->waker.Wake();
  return PostResult::kPosted;
}

EventLoop::EventLoop() : EventLoop(Options{}) {}

EventLoop::EventLoop(Options options)
    : poll_(options.backend),
      shared_(MakeShared(poll_, options)),
      next_watch_token_(kFirstWatchToken),
      pool_(options.workers) {}

EventLoop::~EventLoop() {
  RestoreSignals();
  pool_.Close();  // work not started is destroyed now, never run
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->gone = true;  // from now on every Post says kLoopGone
    dropped.swap(shared_->posted);
  }
  pool_.Join();  // work already running finishes; its done finds kLoopGone
  // `dropped`, the pending timers and the watches are destroyed here, unrun.
}

void EventLoop::Stop() { handle().Stop(); }

void EventLoop::Run() {
  std::thread::id expected{};
  if (!loop_thread_.compare_exchange_strong(expected,
                                            std::this_thread::get_id())) {
    throw std::logic_error(
        "EventLoop::Run: the loop is already running (Run is not reentrant, "
        "and runs on one thread at a time)");
  }
  struct Leave {
    std::atomic<std::thread::id>& id;
    ~Leave() { id.store(std::thread::id{}); }
  } leave{loop_thread_};
  stopped_by_signal_ = 0;

  // Events a callback's exception left undelivered last time: the kernel
  // will not report them again (edge-triggered), so they go first.
  const std::vector<Event> left = std::exchange(undelivered_, {});
  DispatchAll(left.data(), left.data() + left.size());

  for (;;) {
    RunDueTimers();  // 1. timers that are due
    // 2. Sleep until an event or the nearest timer; not at all if stopping.
    std::optional<std::chrono::milliseconds> timeout =
        StopRequested() ? std::chrono::milliseconds(0) : NextTimeout();
    poll_.Wait(events_, timeout);
    DispatchAll(events_.begin(), events_.end());  // 3. events
    RunPosted();                                  // 4. posted functions
    if (TakeStopRequest()) return;                // 5. Stop()?
  }
}

void EventLoop::DispatchAll(const Event* begin, const Event* end) {
  for (const Event* e = begin; e != end; ++e) {
    try {
      Dispatch(*e);
    } catch (...) {
      undelivered_.assign(e + 1, end);
      throw;
    }
  }
}

void EventLoop::Dispatch(const Event& event) {
  // The Waker's token: Poll::Wait has drained it already (lesson 10), and the
  // work it announced is taken in step 4 (RunPosted), after this.
  if (event.token() == kWakeToken) return;
  if (event.token() == kSignalToken) {
    OnSignalPipeReadable();
    return;
  }
  auto it = watches_.find(event.token().value);
  if (it == watches_.end()) return;  // unwatched earlier in this batch
  // A copy: the callback may Unwatch its own fd, which erases the entry.
  std::shared_ptr<WatchCallback> callback = it->second.callback;
  (*callback)(event);
}

bool EventLoop::StopRequested() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->stop_requested;
}

bool EventLoop::TakeStopRequest() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return std::exchange(shared_->stop_requested, false);
}

void EventLoop::CheckLoopThread(const char* what) const {
  const std::thread::id running = loop_thread_.load();
  if (running != std::thread::id{} && running != std::this_thread::get_id()) {
    throw std::logic_error(std::string("EventLoop::") + what +
                           " called from a thread that is not the loop thread "
                           "while Run() is running; Post() a function that "
                           "calls it instead");
  }
}

void EventLoop::Watch(int fd, Interest interest, WatchCallback callback) {
  CheckLoopThread("Watch");
  if (!callback)
    throw std::invalid_argument("EventLoop::Watch: empty callback");
  if (watch_tokens_.count(fd) != 0) {
    throw std::invalid_argument("EventLoop::Watch(fd " + std::to_string(fd) +
                                "): already watched; Unwatch it first");
  }
  const std::uint64_t token = next_watch_token_++;
  poll_.registry().Register(fd, Token{token}, interest);  // throws SysError
  watches_.emplace(
      token,
      WatchEntry{fd, std::make_shared<WatchCallback>(std::move(callback))});
  watch_tokens_.emplace(fd, token);
}

void EventLoop::Rewatch(int fd, Interest interest) {
  CheckLoopThread("Rewatch");
  auto it = watch_tokens_.find(fd);
  if (it == watch_tokens_.end()) {
    throw std::invalid_argument("EventLoop::Rewatch(fd " + std::to_string(fd) +
                                "): not watched by this loop");
  }
  poll_.registry().Reregister(fd, Token{it->second},
                              interest);  // throws SysError
}

void EventLoop::Unwatch(int fd) {
  CheckLoopThread("Unwatch");
  auto it = watch_tokens_.find(fd);
  if (it == watch_tokens_.end()) {
    throw std::invalid_argument("EventLoop::Unwatch(fd " + std::to_string(fd) +
                                "): not watched by this loop");
  }
  watches_.erase(it->second);
  watch_tokens_.erase(it);
  poll_.registry().Deregister(
      fd);  // throws SysError, e.g. EBADF if already closed
}

void EventLoop::StopOnSignals(std::vector<int> signals) {
  CheckLoopThread("StopOnSignals");
  if (signals.empty())
    throw std::invalid_argument("StopOnSignals: no signals given");
  EventLoop* expected = nullptr;
  if (!g_signal_owner.compare_exchange_strong(expected, this)) {
    throw std::logic_error(
        expected == this ? "StopOnSignals: this loop already stops on signals; "
                           "RestoreSignals() first"
                         : "StopOnSignals: another EventLoop of this process "
                           "already stops on signals (one at a time)");
  }
  try {
    Pipe pipe =
        MakePipe(O_NONBLOCK);  // CLOEXEC too; nonblocking: see the handler
    poll_.registry().Register(pipe.read.get(), kSignalToken,
                              Interest::kReadable);
    signal_read_ = std::move(pipe.read);
    signal_write_ = std::move(pipe.write);
    g_signal_write_fd.store(signal_write_.get());
    for (int signo : signals) {
      struct sigaction action;
      memset(&action, 0, sizeof action);
      action.sa_handler = StopLoopOnSignal;
      sigemptyset(&action.sa_mask);
      action.sa_flags = SA_RESTART;  // other threads' blocking calls go on
      struct sigaction old;
      if (sigaction(signo, &action, &old) == -1) {
        throw SysError(
            "sigaction(" + std::to_string(signo) + ", StopLoopOnSignal)",
            errno);
      }
      saved_actions_.emplace_back(signo, old);
    }
  } catch (...) {
    RestoreSignals();
    throw;
  }
}

void EventLoop::RestoreSignals() {
  if (g_signal_owner.load() != this) return;
  // Put the old handlers back first, so no handler writes to a closing pipe.
  for (auto it = saved_actions_.rbegin(); it != saved_actions_.rend(); ++it) {
    if (sigaction(it->first, &it->second, nullptr) == -1) {
      // Cannot happen for a signal sigaction already accepted; say so if it
      // does.
      const std::string message = DescribeSysError(
          "sigaction(" + std::to_string(it->first) + ", old handler)", errno);
      fprintf(stderr, "EventLoop::RestoreSignals: %s\n", message.c_str());
    }
  }
  saved_actions_.clear();
  g_signal_write_fd.store(-1);
  if (signal_read_) {
    try {
      poll_.registry().Deregister(signal_read_.get());
    } catch (
        const std::exception& e) {  // the fd is ours and open: cannot happen
      fprintf(stderr, "EventLoop::RestoreSignals: %s\n", e.what());
    }
  }
  signal_read_.reset();
  signal_write_.reset();
  g_signal_owner.store(nullptr);
}

void EventLoop::OnSignalPipeReadable() {
  unsigned char bytes[64];
  for (;;) {
    const ssize_t n = read(signal_read_.get(), bytes, sizeof bytes);
    if (n > 0) {
      stopped_by_signal_ = bytes[n - 1];
      continue;
    }
    if (n == -1 && errno == EINTR) continue;
    if (n == -1 && errno == EAGAIN) break;
    // 0 (EOF) cannot happen: the loop owns the write end.
    throw SysError(
        "read(signal pipe fd " + std::to_string(signal_read_.get()) + ")",
        n == 0 ? EPIPE : errno);
  }
  Stop();
}

}  // namespace loop
