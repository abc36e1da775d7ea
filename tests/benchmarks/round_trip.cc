// Question 1: what does one round trip cost? Thread A wakes thread B, B wakes
// A back; one benchmark iteration is one round trip (real time, ns).
//
//   round_trip/raw_eventfd_epoll       the floor: per side an epoll with an
//                                      edge-triggered eventfd; one write, one
//                                      epoll_wait, nothing else (each write is
//                                      a new edge, so nothing is read). The
//                                      baseline every ratio is taken to.
//   round_trip/raw_eventfd_epoll_read  the same plus one read of the eventfd
//                                      per wake: what a source that must be
//                                      emptied costs (the pipe Waker)
//   round_trip/condition_variable      std::mutex + std::condition_variable
//                                      (sleeps on a futex)
//   round_trip/waker/BACKEND/KIND      the final Waker (lesson 10), each kind
//                                      on each backend: Wake(), Poll::Wait
//                                      (which drains the source)
//   round_trip/libuv_async_send        libuv: uv_async_send into the peer's
//                                      uv_loop, uv_run(UV_RUN_ONCE) to wait
//   round_trip/asio_post_reactor       Boost.Asio: asio::post into the peer's
//                                      io_context, run_one_until() to wait,
//                                      with a descriptor registered, so the
//                                      reactor runs and the thread sleeps in
//                                      epoll_wait (a server's io_context)
//   round_trip/asio_post_futex         the same without any I/O object: the
//                                      reactor never starts, and the thread
//                                      sleeps on a futex (a condition
//                                      variable), not in epoll_wait
//
// What each thread sleeps in, and the system calls per wake, are counted by
// ./tools/bench under strace (ELFS_BENCH_ITERATIONS fixes the iterations).
//
// Ownership: each Mechanism owns both sides' resources (fds, loops, contexts)
// and closes them in its destructor, after the echo thread has been joined.
// Thread safety: side 0 is used only by the benchmark thread, side 1 only by
// the echo thread, except Wake(side), which the other thread calls.
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "benchmark/benchmark.h"
#include "loop/loop.h"
#include "loop/sys_error.h"
#include "tests/benchmarks/bench_util.h"

namespace loop {
namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

// Two sides; Wake(s) makes side s's next (or current) Wait(s) return true.
// Wait(s) returns false when nothing came within kWaitDeadline.
class Mechanism {
 public:
  virtual ~Mechanism() = default;
  virtual void Wake(int side) = 0;
  virtual bool Wait(int side) = 0;
};

// --- raw eventfd + epoll (the baseline) ------------------------------------

class RawEventfdEpoll : public Mechanism {
 public:
  // read_back: read the eventfd after each wait (3 calls per wake, not 2).
  explicit RawEventfdEpoll(bool read_back) : read_back_(read_back) {
    for (Side& s : sides_) {
      s.epoll.reset(epoll_create1(EPOLL_CLOEXEC));
      if (!s.epoll) Check(-1, "epoll_create1(EPOLL_CLOEXEC)");
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLET;
      Check(epoll_ctl(s.epoll.get(), EPOLL_CTL_ADD, s.eventfd.fd(), &ev),
            "epoll_ctl(EPOLL_CTL_ADD, eventfd)");
    }
  }
  void Wake(int side) override { sides_[side].eventfd.Add1(); }
  bool Wait(int side) override {
    Side& s = sides_[side];
    epoll_event ev;
    int n;
    do {
      n = epoll_wait(s.epoll.get(), &ev, 1,
                     static_cast<int>(kWaitDeadline.count()));
    } while (n == -1 && errno == EINTR);
    Check(n, "epoll_wait");
    if (n == 0) return false;
    if (read_back_) s.eventfd.Take();
    return true;
  }

 private:
  struct Side {
    RawEventfd eventfd;
    Fd epoll;  // closes itself, also when the constructor throws
  };
  const bool read_back_;
  Side sides_[2];
};

// --- std::condition_variable -----------------------------------------------

class CondVar : public Mechanism {
 public:
  void Wake(int side) override {
    Side& s = sides_[side];
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.woken = true;
    }
    s.cv.notify_one();
  }
  bool Wait(int side) override {
    Side& s = sides_[side];
    std::unique_lock<std::mutex> lock(s.mutex);
    if (!s.cv.wait_for(lock, kWaitDeadline, [&s] { return s.woken; })) {
      return false;
    }
    s.woken = false;
    return true;
  }

 private:
  struct Side {
    std::mutex mutex;
    std::condition_variable cv;
    bool woken = false;
  };
  Side sides_[2];
};

// --- the final Waker -------------------------------------------------------

class FinalWaker : public Mechanism {
 public:
  explicit FinalWaker(const WakerCase& c) {
    for (Side& s : sides_) {
      s.poll = std::make_unique<Poll>(c.backend);
      s.waker.emplace(s.poll->registry(), kToken, c.kind);
    }
  }
  void Wake(int side) override { sides_[side].waker->Wake(); }
  bool Wait(int side) override {
    Side& s = sides_[side];
    const auto deadline = Clock::now() + kWaitDeadline;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - Clock::now());
      if (left.count() <= 0) return false;
      s.poll->Wait(s.events, left);
      for (const Event& e : s.events) {
        if (e.token() == kToken) return true;
      }
    }
  }

 private:
  static constexpr Token kToken{1};
  struct Side {
    std::unique_ptr<Poll> poll;
    std::optional<Waker> waker;
    Events events{8};
  };
  Side sides_[2];
};

// --- libuv -----------------------------------------------------------------

void CheckUv(int r, const char* what) {
  if (r < 0) {
    throw std::runtime_error(std::string(what) + " failed: " + uv_err_name(r) +
                             " (" + uv_strerror(r) + ")");
  }
}

class Libuv : public Mechanism {
 public:
  Libuv() {
    try {
      Init();
    } catch (...) {
      Close();  // the destructor does not run when a constructor throws
      throw;
    }
  }
  ~Libuv() override { Close(); }
  void Wake(int side) override {
    CheckUv(uv_async_send(&sides_[side].async), "uv_async_send");
  }
  bool Wait(int side) override {
    Side& s = sides_[side];
    const auto deadline = Clock::now() + kWaitDeadline;
    while (!s.woken) {
      uv_run(&s.loop, UV_RUN_ONCE);
      if (!s.woken && Clock::now() >= deadline) return false;
    }
    s.woken = false;
    return true;
  }

 private:
  void Init() {
    for (Side& s : sides_) {
      CheckUv(uv_loop_init(&s.loop), "uv_loop_init");
      s.loop_live = true;
      s.async.data = &s;
      CheckUv(uv_async_init(&s.loop, &s.async,
                            [](uv_async_t* a) {
                              static_cast<Side*>(a->data)->woken = true;
                            }),
              "uv_async_init");
      s.async_live = true;
      CheckUv(uv_timer_init(&s.loop, &s.timer), "uv_timer_init");
      s.timer_live = true;
      // A 100 ms heartbeat, so that uv_run(UV_RUN_ONCE) returns at least that
      // often and Wait can keep its deadline.
      CheckUv(uv_timer_start(
                  &s.timer, [](uv_timer_t*) {}, 100, 100),
              "uv_timer_start");
    }
  }
  void Close() {
    for (Side& s : sides_) {
      if (s.timer_live) uv_close(reinterpret_cast<uv_handle_t*>(&s.timer), {});
      if (s.async_live) uv_close(reinterpret_cast<uv_handle_t*>(&s.async), {});
      s.timer_live = s.async_live = false;
      if (s.loop_live) {
        uv_run(&s.loop, UV_RUN_DEFAULT);  // runs the close callbacks
        uv_loop_close(&s.loop);
        s.loop_live = false;
      }
    }
  }

  struct Side {
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t timer;
    bool loop_live = false, async_live = false, timer_live = false;
    bool woken = false;  // Only the thread running `loop` touches it.
  };
  Side sides_[2];
};

// --- Boost.Asio --------------------------------------------------------------

class AsioPost : public Mechanism {
 public:
  // with_reactor: register one descriptor (the read end of a pipe) with each
  // io_context. Any I/O object starts Asio's reactor, whose epoll_wait the
  // running thread then sleeps in; post() from another thread interrupts it
  // (epoll_ctl on the reactor's eventfd). Without one, run_one_until() waits on
  // a condition variable and post() notifies it.
  explicit AsioPost(bool with_reactor) {
    if (!with_reactor) return;
    for (Side& s : sides_) {
      int fds[2];
      Check(pipe2(fds, O_CLOEXEC | O_NONBLOCK), "pipe2(O_CLOEXEC|O_NONBLOCK)");
      s.pipe_write.reset(fds[1]);
      // The stream_descriptor owns the read end from here on and closes it.
      s.registered.emplace(s.context, fds[0]);
    }
  }
  void Wake(int side) override {
    Side* s = &sides_[side];
    boost::asio::post(s->context, [s] { s->woken = true; });
  }
  bool Wait(int side) override {
    Side& s = sides_[side];
    const auto deadline = Clock::now() + kWaitDeadline;
    while (!s.woken) {
      s.context.run_one_until(deadline);
      if (!s.woken && Clock::now() >= deadline) return false;
    }
    s.woken = false;
    return true;
  }

 private:
  struct Side {
    boost::asio::io_context context{1};  // concurrency hint: one thread runs it
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
        work = boost::asio::make_work_guard(context);
    // The I/O object that starts the reactor, and its pipe's other end.
    std::optional<boost::asio::posix::stream_descriptor> registered;
    Fd pipe_write;
    bool woken = false;  // Only the thread running `context` touches it.
  };
  Side sides_[2];
};

// --- the round trip ----------------------------------------------------------

void RoundTrip(benchmark::State& state,
               const std::function<std::unique_ptr<Mechanism>()>& make) {
  std::unique_ptr<Mechanism> m;
  try {
    m = make();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  std::atomic<bool> stop{false};
  std::mutex error_mutex;
  std::string echo_error;
  std::thread echo([&] {
    try {
      for (;;) {
        if (!m->Wait(1)) throw std::runtime_error("echo: no ping within 5 s");
        if (stop.load(std::memory_order_acquire)) return;
        m->Wake(0);
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(error_mutex);
      echo_error = e.what();
    }
  });
  std::string error;
  try {
    for (auto _ : state) {
      m->Wake(1);
      if (!m->Wait(0)) {
        error = "no pong within 5 s";
        break;
      }
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  stop.store(true, std::memory_order_release);
  try {
    m->Wake(1);
  } catch (const std::exception& e) {
    if (error.empty()) error = e.what();
  }
  echo.join();
  if (!echo_error.empty()) error += (error.empty() ? "" : "; ") + echo_error;
  if (!error.empty()) state.SkipWithError(error.c_str());
}

void Register(const std::string& name,
              std::function<std::unique_ptr<Mechanism>()> make) {
  benchmark::internal::Benchmark* b = benchmark::RegisterBenchmark(
      ("round_trip/" + name).c_str(),
      [make](benchmark::State& state) { RoundTrip(state, make); });
  b->UseRealTime();
  if (const int n = FixedIterations()) b->Iterations(n);
}

}  // namespace
}  // namespace bench
}  // namespace loop

int main(int argc, char** argv) {
  using namespace loop::bench;  // NOLINT: main only
  Register("raw_eventfd_epoll",
           [] { return std::make_unique<RawEventfdEpoll>(false); });
  Register("raw_eventfd_epoll_read",
           [] { return std::make_unique<RawEventfdEpoll>(true); });
  Register("condition_variable", [] { return std::make_unique<CondVar>(); });
  for (const WakerCase& c : AllWakerCases()) {
    Register("waker/" + CaseName(c),
             [c] { return std::make_unique<FinalWaker>(c); });
  }
  Register("libuv_async_send", [] { return std::make_unique<Libuv>(); });
  Register("asio_post_reactor",
           [] { return std::make_unique<AsioPost>(true); });
  Register("asio_post_futex", [] { return std::make_unique<AsioPost>(false); });
  return loop::bench::RunBenchmarks(argc, argv, [] {
    uv_loop_t loop;  // libuv's process-wide pipe opens with the first loop
    if (uv_loop_init(&loop) == 0) uv_loop_close(&loop);
  });
}
