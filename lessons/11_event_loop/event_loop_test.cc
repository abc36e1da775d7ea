// Lesson 11: the event loop.
//
// This file is compiled twice (see BUILD.bazel): event_loop_epoll_test with
// LOOP_TEST_BACKEND=kEpoll and event_loop_kqueue_test with
// LOOP_TEST_BACKEND=kKqueue. The loop is the same on both: that is what the
// Poll and the Waker underneath are for.
//
// How these tests wait: Run() goes on a LoopThread, and the test thread acts
// on the loop from outside (Post, Stop), as a worker would. Order comes from
// latches and from callbacks the loop runs; every wait has a deadline, and a
// loop that does not stop is stopped and reported, never left to hang.
//
// The Watch, Stop and signal tests pass before you start: that half of the
// loop is given (loop/event_loop_run.cc). The Post, timer and Offload tests are
// yours.
#include "loop/event_loop.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "loop/fd.h"
#include "tests/support/deadline.h"
#include "tests/support/errors.h"
#include "tests/support/fds.h"
#include "tests/support/pipes.h"
#include "tests/support/threads.h"

#ifndef LOOP_TEST_BACKEND
#error "Build with LOOP_TEST_BACKEND=kEpoll or kKqueue (see BUILD.bazel)."
#endif

namespace loop {
namespace {

using std::chrono::milliseconds;
using testing::kDefaultDeadline;
using testing::Latch;
using testing::NonBlockingPipe;
using testing::WaitUntil;

constexpr Backend kBackend = Backend::LOOP_TEST_BACKEND;

EventLoop::Options Opts(int workers = 2) {
  EventLoop::Options options;
  options.backend = kBackend;
  options.workers = workers;
  return options;
}

// Run() on its own thread. The test thread is then "another thread".
class LoopThread {
 public:
  explicit LoopThread(EventLoop& loop)
      : loop_(loop), thread_([this] { Body(); }) {}
  ~LoopThread() {
    if (thread_.joinable()) {
      loop_.Stop();
      thread_.join();
    }
  }
  // True if Run() returned by itself within `deadline`. If not, calls
  // rescue() (to end whatever keeps the loop busy) and Stop(), joins, and
  // returns false.
  bool Finished(milliseconds deadline = kDefaultDeadline,
                const std::function<void()>& rescue = {}) {
    const bool finished = returned_.Wait(deadline);
    if (!finished) {
      if (rescue) rescue();
      loop_.Stop();
    }
    thread_.join();
    return finished;
  }
  std::thread::id id() const { return id_; }
  // What Run() threw, if anything (after Finished()).
  std::exception_ptr error() const { return error_; }

 private:
  void Body() {
    try {
      loop_.Run();
    } catch (...) {
      error_ = std::current_exception();
    }
    returned_.CountDown();
  }
  EventLoop& loop_;
  Latch returned_{1};
  std::exception_ptr error_;
  std::thread thread_;
  const std::thread::id id_ = thread_.get_id();
};

std::string What(std::exception_ptr error) {
  if (!error) return "nothing";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "a non-std exception";
  }
}

void WriteByte(const Fd& fd) { ASSERT_EQ(write(fd.get(), "x", 1), 1); }

void DrainFd(int fd) {
  char buf[64];
  while (read(fd, buf, sizeof buf) > 0) {
  }
}

// Proof that Run() is running: a watched pipe whose callback, on the loop
// thread, records the thread's kernel id and opens a latch. Given code (Watch)
// only, so it works before you start.
class Running {
 public:
  explicit Running(EventLoop& loop) : pipe_(NonBlockingPipe()) {
    loop.Watch(pipe_.read.get(), Interest::kReadable, [this](const Event&) {
      DrainFd(pipe_.read.get());
      tid_.store(testing::CurrentThreadId());
      seen_.CountDown();
    });
  }
  // Pokes the pipe and waits for the callback.
  bool Wait() {
    WriteByte(pipe_.write);
    return seen_.Wait();
  }
  long tid() const { return tid_.load(); }

 private:
  Pipe pipe_;
  Latch seen_{1};
  std::atomic<long> tid_{0};
};

constexpr char kNeverRan[] =
    "the posted function never ran: Post must push it onto shared_->posted and "
    "Wake() the loop, and RunPosted must run what is queued";

// ---------------------------------------------------------------------------
// 1. Post

TEST(Post, FromAnotherThreadRunsOnTheLoopThread) {
  EventLoop loop(Opts());
  Running running(loop);
  LoopThread thread(loop);
  ASSERT_TRUE(running.Wait())
      << "Run() never called a Watch callback (given code)";

  // Post only once the loop thread sleeps in Poll::Wait. With no timer and
  // nothing ready it would sleep for ever, so only Post's Wake() can make it
  // run the function (without this wait, the Post could land before that
  // turn's RunPosted, and pass without any Wake()).
  const bool asleep = testing::WaitUntilBlockedInKernel(running.tid());
  std::thread::id ran_on;
  loop.Post([&] {
    ran_on = std::this_thread::get_id();
    loop.Stop();
  });
  if (asleep) {
    ASSERT_TRUE(thread.Finished())
        << "the loop slept through the Post: it was asleep in Poll::Wait when "
           "Post queued the function, and 5 s later the function had not run. "
           "Post must Wake() the loop (shared_->waker.Wake(), after the "
           "unlock) once the function is queued";
  } else {
    ASSERT_TRUE(thread.Finished())
        << "Run() did not return within 5 s: " << kNeverRan;
  }
  EXPECT_EQ(ran_on, thread.id())
      << "a posted function must run on the loop thread";
}

TEST(Post, ManyProducersEveryPostRunsExactlyOnceAndInOrderPerProducer) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 10000;
  EventLoop loop(Opts());
  loop.Post([] {});  // a starter's TODO shows up here, on the test thread

  std::vector<int> runs(kProducers * kPerProducer, 0);  // loop thread only
  std::vector<int> last(kProducers, -1);
  int out_of_order = 0;
  int wrong_thread = 0;
  LoopThread thread(loop);
  const std::thread::id loop_id = thread.id();
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        loop.Post([&, p, i] {
          ++runs[p * kPerProducer + i];
          if (i <= last[p]) ++out_of_order;
          last[p] = i;
          if (std::this_thread::get_id() != loop_id) ++wrong_thread;
        });
      }
    });
  }
  for (std::thread& t : producers) t.join();
  // Posted after every producer's posts, so it runs after all of them.
  loop.Post([&] { loop.Stop(); });
  ASSERT_TRUE(thread.Finished())
      << "Run() did not return within 5 s: " << kNeverRan;

  int never = 0;
  int twice = 0;
  for (int n : runs) {
    if (n == 0) ++never;
    if (n > 1) ++twice;
  }
  EXPECT_EQ(never, 0)
      << "posts stranded in the queue: a Post that is never run is "
         "lost work. Every post must Wake() the loop";
  EXPECT_EQ(twice, 0) << "posts run more than once: RunPosted must take each "
                         "function out of the queue before running it";
  EXPECT_EQ(out_of_order, 0)
      << "one thread's posts must run in the order it posted them";
  EXPECT_EQ(wrong_thread, 0)
      << "every posted function must run on the loop thread";
}

TEST(Post, FromAPostedFunctionRunsOnALaterTurnNotInsideTheCaller) {
  EventLoop loop(Opts());
  bool inner_ran_inside_outer = false;
  bool inner_ran = false;
  loop.Post([&] {
    loop.Post([&] { inner_ran = true; });
    inner_ran_inside_outer = inner_ran;
  });
  // A function that posts itself again, for ever (until told to stop).
  std::atomic<int> reposts{0};
  std::atomic<bool> give_up{false};
  std::function<void()> again = [&] {
    reposts.fetch_add(1);
    if (!give_up.load()) loop.Post(again);
  };
  loop.Post(again);

  LoopThread thread(loop);
  ASSERT_TRUE(WaitUntil([&] { return reposts.load() >= 3; }))
      << "the self-posting function ran " << reposts.load()
      << " times: " << kNeverRan;
  loop.Stop();
  ASSERT_TRUE(thread.Finished(kDefaultDeadline, [&] { give_up = true; }))
      << "Run() never returned after Stop(): a function that posts itself kept "
         "RunPosted busy for ever. Take the whole queue in one swap, so what is "
         "posted meanwhile waits for the next turn";
  EXPECT_TRUE(inner_ran) << kNeverRan;
  EXPECT_FALSE(inner_ran_inside_outer)
      << "Post from the loop thread ran the function at once, inside the caller; "
         "it must be queued and run later, after the caller returns";
}

TEST(Post, PostsMadeBeforeRunRunInOrderInTheFirstTurn) {
  EventLoop loop(Opts());
  std::vector<int> order;
  for (int i = 0; i < 3; ++i) loop.Post([&, i] { order.push_back(i); });
  loop.Stop();  // before Run: Run() makes one turn and returns
  LoopThread thread(loop);
  ASSERT_TRUE(thread.Finished())
      << "Stop() before Run() must make Run() return after one turn";
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2})) << kNeverRan;
}

TEST(Post, AThrowingFunctionLeavesRunAndTheRestStayQueued) {
  EventLoop loop(Opts());
  int later_runs = 0;
  loop.Post([] { throw std::runtime_error("posted function failed"); });
  loop.Post([&] { ++later_runs; });
  loop.Post([&] { loop.Stop(); });
  {
    LoopThread thread(loop);
    ASSERT_TRUE(thread.Finished())
        << "Run() did not return within 5 s: " << kNeverRan;
    EXPECT_EQ(What(thread.error()), "posted function failed")
        << "an exception from a posted function must leave Run()";
  }
  EXPECT_EQ(later_runs, 0) << "Run() must return at the exception, not run on";
  LoopThread again(loop);
  ASSERT_TRUE(again.Finished())
      << "the functions after the one that threw never ran: put them back at the "
         "front of shared_->posted and Wake() the loop (the wake that brought "
         "them was drained) before the exception leaves RunPosted";
  EXPECT_EQ(later_runs, 1)
      << "each function runs exactly once, also across an exception";
}

TEST(Post, FunctionsPutBackAfterAThrowKeepTheirOrderAheadOfLaterPosts) {
  EventLoop loop(Opts());
  std::vector<int> order;  // loop thread only, while Run() runs
  loop.Post([] { throw std::runtime_error("posted function failed"); });
  for (int i = 1; i <= 3; ++i) loop.Post([&, i] { order.push_back(i); });
  {
    LoopThread thread(loop);
    ASSERT_TRUE(thread.Finished())
        << "Run() did not return within 5 s: " << kNeverRan;
    ASSERT_EQ(What(thread.error()), "posted function failed")
        << "an exception from a posted function must leave Run()";
  }
  // Posted after the throw: it must run after the three that were put back.
  loop.Post([&] {
    order.push_back(4);
    loop.Stop();
  });
  LoopThread again(loop);
  ASSERT_TRUE(again.Finished())
      << "the functions after the one that threw never ran: put them back at "
         "the front of shared_->posted and Wake() the loop";
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}))
      << "the functions behind the one that threw must run in the order they "
         "were posted, and before anything posted later: put the rest of the "
         "batch back at the front of shared_->posted as one block, first "
         "function first (pushing them to the front one at a time reverses "
         "them)";
}

TEST(Post,
     AHandleThatOutlivesItsLoopSaysLoopGoneAndQueuedPostsAreDestroyedUnrun) {
  LoopHandle handle;
  auto queued = std::make_shared<int>(0);
  bool queued_ran = false;
  {
    EventLoop loop(Opts());
    handle = loop.handle();
    EXPECT_EQ(handle.Post([&queued_ran, queued] { queued_ran = true; }),
              PostResult::kPosted);
  }
  EXPECT_FALSE(queued_ran) << "~EventLoop must not run what is still queued";
  EXPECT_EQ(queued.use_count(), 1)
      << "~EventLoop must destroy what is still queued";

  auto late = std::make_shared<int>(0);
  EXPECT_EQ(handle.Post([late] {}), PostResult::kLoopGone)
      << "a Post after the loop is gone must say kLoopGone, not queue";
  EXPECT_EQ(late.use_count(), 1) << "the refused function must be destroyed";
  EXPECT_EQ(handle.Stop(), PostResult::kLoopGone);
  EXPECT_EQ(LoopHandle().Post([] {}), PostResult::kLoopGone)
      << "an empty LoopHandle reaches no loop";
}

TEST(Post, AThreadPostingWhileTheLoopIsDestroyedIsSafe) {
  auto loop = std::make_unique<EventLoop>(Opts());
  LoopHandle handle = loop->handle();
  ASSERT_EQ(handle.Post([] {}), PostResult::kPosted);
  Latch posting(2);
  std::atomic<int> posted{0};
  std::thread producer([&] {
    posting.CountDown();
    while (handle.Post([] {}) == PostResult::kPosted) posted.fetch_add(1);
  });
  ASSERT_TRUE(posting.ArriveAndWait());
  ASSERT_TRUE(WaitUntil([&] { return posted.load() > 100; }));
  loop.reset();     // while the producer posts: TSan and ASan watch this
  producer.join();  // ends: the first kLoopGone stops it
  EXPECT_EQ(handle.Post([] {}), PostResult::kLoopGone);
}

// ---------------------------------------------------------------------------
// 2. Timers

constexpr char kTimersNeverRan[] =
    "the timers never ran: RunDueTimers must run those whose deadline has "
    "come, and NextTimeout must give Poll::Wait the time to the nearest one "
    "(without it, Wait sleeps until an event that never comes)";

TEST(Timers, ATimerNeverFiresEarly) {
  EventLoop loop(Opts());
  const std::vector<milliseconds> delays = {milliseconds(1), milliseconds(7),
                                            milliseconds(25)};
  std::vector<Clock::time_point> set_at(delays.size());
  std::vector<Clock::time_point> fired_at(delays.size());
  for (size_t i = 0; i < delays.size(); ++i) {
    set_at[i] = Clock::now();
    loop.RunAfter(delays[i], [&, i] {
      fired_at[i] = Clock::now();
      if (i + 1 == delays.size()) loop.Stop();
    });
  }
  LoopThread thread(loop);
  ASSERT_TRUE(thread.Finished()) << kTimersNeverRan;
  for (size_t i = 0; i < delays.size(); ++i) {
    EXPECT_GE(fired_at[i] - set_at[i], delays[i])
        << "the " << delays[i].count()
        << " ms timer fired early: run a timer only "
           "when Clock::now() >= its deadline, and round the poll timeout up";
  }
}

TEST(Timers, EqualDeadlinesFireInTheOrderTheyWereSetAndEarlierDeadlinesFirst) {
  EventLoop loop(Opts());
  const Clock::time_point deadline = Clock::now() + milliseconds(10);
  std::vector<int> order;
  for (int i = 1; i <= 5; ++i)
    loop.RunAt(deadline, [&, i] { order.push_back(i); });
  loop.RunAt(deadline - milliseconds(5),
             [&] { order.push_back(0); });  // set last
  loop.RunAt(deadline + milliseconds(1), [&] { loop.Stop(); });
  LoopThread thread(loop);
  ASSERT_TRUE(thread.Finished()) << kTimersNeverRan;
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}))
      << "timers run by deadline, and equal deadlines in the order they were set: "
         "order the heap by (deadline, seq)";
}

TEST(Timers, CancelFromInsideAnotherCallbackInTheSameTurn) {
  EventLoop loop(Opts());
  const Clock::time_point deadline = Clock::now() + milliseconds(5);
  bool second_ran = false;
  bool cancelled = false;
  bool cancelled_again = true;
  TimerId second;
  loop.RunAt(deadline, [&] {
    cancelled = loop.Cancel(second);
    cancelled_again = loop.Cancel(second);
  });
  second = loop.RunAt(deadline, [&] { second_ran = true; });
  loop.RunAt(deadline + milliseconds(2), [&] { loop.Stop(); });
  LoopThread thread(loop);
  ASSERT_TRUE(thread.Finished()) << kTimersNeverRan;
  EXPECT_TRUE(cancelled) << "Cancel of a pending timer must say true";
  EXPECT_FALSE(cancelled_again)
      << "a second Cancel of the same timer must say false";
  EXPECT_FALSE(second_ran)
      << "a timer cancelled by an earlier callback of the same turn still ran: "
         "look its function up when it comes to the top of the heap, not before";
}

TEST(Timers, CancelAfterATimerRanSaysFalse) {
  EventLoop loop(Opts());
  int runs = 0;
  bool cancel_self = true;
  TimerId id;
  id = loop.RunAfter(milliseconds(1), [&] {
    ++runs;
    cancel_self = loop.Cancel(id);
    loop.Stop();
  });
  LoopThread thread(loop);
  ASSERT_TRUE(thread.Finished()) << kTimersNeverRan;
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(cancel_self)
      << "a running timer cannot be cancelled: remove it before calling it";
  EXPECT_FALSE(loop.Cancel(id)) << "Cancel of a timer that ran must say false";
  EXPECT_FALSE(loop.Cancel(TimerId{})) << "TimerId{} names no timer";
}

// The timer sets itself again for a deadline that has already passed, so the
// new timer is due at once, however often the clock is read: only "run the
// timers that existed when the step began" sends it to the next turn. (One set
// with RunAfter(0) would not show it: its deadline lies after the `now` that
// RunDueTimers took.)
TEST(Timers, ATimerSetByATimerRunsOnALaterTurn) {
  EventLoop loop(Opts());
  std::atomic<int> runs{0};
  std::atomic<bool> give_up{false};
  const Clock::time_point past = Clock::now();
  std::function<void()> again = [&] {
    runs.fetch_add(1);
    if (!give_up.load()) loop.RunAt(past, again);
  };
  loop.RunAt(past, again);
  LoopThread thread(loop);
  ASSERT_TRUE(WaitUntil([&] { return runs.load() >= 3; }))
      << "a timer that sets itself again, already due, ran " << runs.load()
      << " times; " << kTimersNeverRan;
  loop.Stop();
  ASSERT_TRUE(thread.Finished(kDefaultDeadline, [&] { give_up = true; }))
      << "Run() never returned after Stop(): a timer that sets itself again, "
         "already due, kept RunDueTimers busy. Run only the timers that "
         "existed when the step began (seq < next_timer_seq_ as it was then)";
}

TEST(Timers, AThrowingTimerKeepsTheTimersSetBeforeItThrew) {
  EventLoop loop(Opts());
  bool later_ran = false;
  const Clock::time_point due = Clock::now();
  // The first timer sets one that is already due; RunDueTimers holds it back
  // for the next turn. Then the second timer of this turn throws.
  loop.RunAt(due, [&] {
    loop.RunAt(due - std::chrono::seconds(1), [&] {
      later_ran = true;
      loop.Stop();
    });
  });
  loop.RunAt(due, [] { throw std::runtime_error("timer failed"); });
  {
    LoopThread thread(loop);
    ASSERT_TRUE(thread.Finished())
        << "Run() did not return within 5 s: " << kTimersNeverRan;
    EXPECT_EQ(What(thread.error()), "timer failed")
        << "an exception from a timer must leave Run()";
  }
  EXPECT_FALSE(later_ran) << "a timer set by a timer runs on a later turn";
  LoopThread again(loop);
  ASSERT_TRUE(again.Finished())
      << "the timer set in the turn that threw never ran: RunDueTimers held "
         "it back for the next turn, then lost it when the exception left. "
         "Push the held-back timers back on the heap before rethrowing";
  EXPECT_TRUE(later_ran);
}

// Runs `loop` on a thread and expects that thread to go to sleep in the kernel
// (within 2 s) rather than spin; `why` says what NextTimeout got wrong if not.
void ExpectTheLoopSleeps(EventLoop& loop, const char* why) {
  Running running(loop);
  LoopThread thread(loop);
  ASSERT_TRUE(running.Wait())
      << "Run() never called a Watch callback (given code)";
  EXPECT_TRUE(
      testing::WaitUntilBlockedInKernel(running.tid(), milliseconds(2000)))
      << why;
  loop.Stop();
  ASSERT_TRUE(thread.Finished());
}

TEST(Timers, TheLoopSleepsUntilTheNearestDeadlineInsteadOfSpinning) {
  EventLoop loop(Opts());
  bool far_ran = false;
  loop.RunAfter(std::chrono::seconds(60), [&] { far_ran = true; });
  ExpectTheLoopSleeps(
      loop,
      "with one timer 60 s away the loop thread never went to sleep in the "
      "kernel: it is spinning. NextTimeout must return the time to the "
      "nearest deadline, not 0");
  EXPECT_FALSE(far_ran);
}

TEST(Timers, WithNoTimerTheLoopSleepsUntilAnEvent) {
  EventLoop loop(Opts());
  ExpectTheLoopSleeps(
      loop,
      "with no timer at all the loop thread never went to sleep in the "
      "kernel: it is spinning. With nothing to wait for, NextTimeout must "
      "return std::nullopt (no timeout: sleep until an event), not 0");
}

TEST(Timers, PendingTimersAreDestroyedUnrunWithTheLoop) {
  auto captured = std::make_shared<int>(0);
  bool ran = false;
  {
    EventLoop loop(Opts());
    loop.RunAfter(milliseconds(0), [&ran, captured] { ran = true; });
  }
  EXPECT_FALSE(ran);
  EXPECT_EQ(captured.use_count(), 1)
      << "~EventLoop must destroy pending timers";
}

// ---------------------------------------------------------------------------
// 3. Offload

TEST(Offload, WorkRunsOnAWorkerAndDoneOnTheLoopThread) {
  EventLoop loop(Opts());
  std::thread::id work_on;
  std::thread::id done_on;
  int value = 0;
  loop.Offload(
      [&] {
        work_on = std::this_thread::get_id();
        return 42;
      },
      [&](Result<int> result) {
        done_on = std::this_thread::get_id();
        value = result.value();
        loop.Stop();
      });
  LoopThread thread(loop);
  ASSERT_TRUE(thread.Finished())
      << "done never ran: the job must Post done back to the loop ("
      << What(thread.error()) << ")";
  EXPECT_EQ(value, 42);
  EXPECT_NE(work_on, thread.id())
      << "work must run on a worker, not the loop thread";
  EXPECT_EQ(done_on, thread.id()) << "done must run on the loop thread";
}

TEST(Offload, AnExceptionFromWorkReachesDone) {
  EventLoop loop(Opts());
  bool ok = true;
  std::string message;
  loop.Offload([]() -> int { throw std::runtime_error("disk on fire"); },
               [&](Result<int> result) {
                 ok = result.ok();
                 message = What(result.error());
                 loop.Stop();
               });
  LoopThread thread(loop);
  ASSERT_TRUE(thread.Finished()) << "done never ran: " << What(thread.error());
  EXPECT_FALSE(ok) << "done must see that work threw";
  EXPECT_EQ(message, "disk on fire")
      << "catch what work throws (catch (...), std::current_exception()) and hand "
         "it to done";
}

TEST(Offload, ManyOffloadsFromTwoThreadsEachDoneRunsOnce) {
  constexpr int kEach = 200;
  EventLoop loop(Opts());
  std::vector<int> done_runs(2 * kEach, 0);  // loop thread only
  int done_total = 0;
  int wrong_value = 0;
  auto offload = [&](int first) {
    for (int i = first; i < first + kEach; ++i) {
      loop.Offload([i] { return i * 3; },
                   [&, i](Result<int> r) {
                     ++done_runs[i];
                     if (r.value() != i * 3) ++wrong_value;
                     if (++done_total == 2 * kEach) loop.Stop();
                   });
    }
  };
  offload(0);  // on the test thread first: a starter's TODO shows up here
  LoopThread thread(loop);
  std::thread other([&] { offload(kEach); });
  other.join();
  ASSERT_TRUE(thread.Finished())
      << "only " << done_total << " of " << 2 * kEach << " done callbacks ran";
  for (int i = 0; i < 2 * kEach; ++i)
    EXPECT_EQ(done_runs[i], 1) << "offload " << i;
  EXPECT_EQ(wrong_value, 0);
}

TEST(Offload, DestroyingTheLoopWhileWorkIsInFlightIsSafe) {
  auto loop = std::make_unique<EventLoop>(Opts(/*workers=*/1));
  LoopHandle handle = loop->handle();
  Latch started(1);
  Latch release(1);
  std::atomic<bool> second_work_ran{false};
  std::atomic<int> dones{0};
  auto first_done_capture = std::make_shared<int>(0);
  loop->Offload(
      [&] {
        started.CountDown();
        return release.Wait();
      },
      [&dones, first_done_capture](Result<bool>) { dones.fetch_add(1); });
  loop->Offload(  // queued behind the first on the one worker
      [&] {
        second_work_ran = true;
        return true;
      },
      [&dones](Result<bool>) { dones.fetch_add(1); });
  ASSERT_TRUE(started.Wait()) << "the first work never started on the pool";

  std::thread destroyer([&] { loop.reset(); });
  // ~EventLoop drops the queued work, then marks the loop gone, then waits
  // for the running work: release it once the loop says gone.
  const bool gone =
      WaitUntil([&] { return handle.Post([] {}) == PostResult::kLoopGone; });
  release.CountDown();
  destroyer.join();
  ASSERT_TRUE(gone) << "~EventLoop never marked the loop gone";
  EXPECT_FALSE(second_work_ran)
      << "work not started when the loop was destroyed must not run";
  EXPECT_EQ(dones.load(), 0) << "no done may run once its loop is gone";
  EXPECT_EQ(first_done_capture.use_count(), 1)
      << "the done of work that finished after its loop was gone must be destroyed";
}

// ---------------------------------------------------------------------------
// Given: fd callbacks, Stop, signals. These pass before you start.

TEST(Watch, TheCallbackRunsOnTheLoopThreadWhenTheFdIsReady) {
  EventLoop loop(Opts());
  Pipe pipe = NonBlockingPipe();
  std::thread::id ran_on;
  bool readable = false;
  loop.Watch(pipe.read.get(), Interest::kReadable, [&](const Event& event) {
    ran_on = std::this_thread::get_id();
    readable = event.is_readable();
    DrainFd(pipe.read.get());  // edge-triggered: read until EAGAIN
    loop.Unwatch(pipe.read.get());
    loop.Stop();
  });
  LoopThread thread(loop);
  WriteByte(pipe.write);
  ASSERT_TRUE(thread.Finished()) << What(thread.error());
  EXPECT_EQ(ran_on, thread.id());
  EXPECT_TRUE(readable);
}

TEST(Watch, RewatchChangesTheInterestOfAWatchedFd) {
  EventLoop loop(Opts());
  Pipe pipe = NonBlockingPipe();
  bool writable = false;
  // The write end of an empty pipe is writable, but nobody asked for that yet.
  loop.Watch(pipe.write.get(), Interest::kReadable, [&](const Event& event) {
    writable = event.is_writable();
    loop.Unwatch(pipe.write.get());
    loop.Stop();
  });
  loop.Rewatch(pipe.write.get(), Interest::kWritable);
  LoopThread thread(loop);
  ASSERT_TRUE(thread.Finished())
      << "no event after Rewatch(kWritable) of a writable pipe end (given "
         "code): "
      << What(thread.error());
  EXPECT_TRUE(writable);
  EXPECT_THROW(loop.Rewatch(pipe.read.get(), Interest::kReadable),
               std::invalid_argument)
      << "Rewatch of an fd the loop does not watch";
}

TEST(Watch, ACallbackMayUnwatchItselfAndAnotherFdOfTheSameBatch) {
  EventLoop loop(Opts());
  Pipe a = NonBlockingPipe();
  Pipe b = NonBlockingPipe();
  int calls = 0;
  auto unwatch_both = [&](const Event&) {
    ++calls;
    loop.Unwatch(a.read.get());
    loop.Unwatch(b.read.get());  // maybe already in this batch's events
    loop.Stop();
  };
  loop.Watch(a.read.get(), Interest::kReadable, unwatch_both);
  loop.Watch(b.read.get(), Interest::kReadable, unwatch_both);
  WriteByte(a.write);  // both ready before Run: one Wait reports both
  WriteByte(b.write);
  LoopThread thread(loop);
  ASSERT_TRUE(thread.Finished()) << What(thread.error());
  EXPECT_EQ(calls, 1)
      << "the callback of an fd unwatched earlier in the batch ran";
  // Both were really deregistered: they can be watched again.
  loop.Watch(a.read.get(), Interest::kReadable, [](const Event&) {});
  loop.Watch(b.read.get(), Interest::kReadable, [](const Event&) {});
}

TEST(Watch, AnExceptionFromACallbackLeavesTheRestOfTheBatchForTheNextRun) {
  EventLoop loop(Opts());
  Pipe a = NonBlockingPipe();
  Pipe b = NonBlockingPipe();
  int calls = 0;
  auto first_throws = [&](const Event&) {
    if (++calls == 1) throw std::runtime_error("callback failed");
    loop.Stop();
  };
  loop.Watch(a.read.get(), Interest::kReadable, first_throws);
  loop.Watch(b.read.get(), Interest::kReadable, first_throws);
  WriteByte(a.write);  // both ready before Run: one Wait reports both
  WriteByte(b.write);
  {
    LoopThread thread(loop);
    ASSERT_TRUE(thread.Finished());
    EXPECT_EQ(What(thread.error()), "callback failed");
  }
  EXPECT_EQ(calls, 1);
  // Edge-triggered: the kernel will not report the second fd again, so the
  // loop must have kept its event.
  LoopThread again(loop);
  ASSERT_TRUE(again.Finished())
      << "the event after the callback that threw was lost";
  EXPECT_EQ(calls, 2);
}

TEST(Watch, MistakesAreClearErrors) {
  EventLoop loop(Opts());
  Pipe pipe = NonBlockingPipe();
  loop.Watch(pipe.read.get(), Interest::kReadable, [](const Event&) {});
  EXPECT_THROW(
      loop.Watch(pipe.read.get(), Interest::kReadable, [](const Event&) {}),
      std::invalid_argument);
  EXPECT_THROW(loop.Unwatch(pipe.write.get()), std::invalid_argument);
  const int closed = pipe.write.release();
  close(closed);
  auto error = testing::SysErrorFrom(
      [&] { loop.Watch(closed, Interest::kReadable, [](const Event&) {}); },
      "watching a closed fd must throw SysError(EBADF)");
  if (error) {
    EXPECT_EQ(error->err, EBADF) << error->what;
  }
}

TEST(Watch, LoopThreadMethodsFromAnotherThreadWhileRunningThrow) {
  EventLoop loop(Opts());
  Running running(loop);
  LoopThread thread(loop);
  ASSERT_TRUE(running.Wait());
  Pipe pipe = NonBlockingPipe();
  EXPECT_THROW(
      loop.Watch(pipe.read.get(), Interest::kReadable, [](const Event&) {}),
      std::logic_error);
  EXPECT_THROW(loop.RunAfter(milliseconds(1), [] {}), std::logic_error);
  EXPECT_THROW(loop.Cancel(TimerId{1}), std::logic_error);
  EXPECT_THROW(loop.Run(), std::logic_error) << "Run() twice at once";
  loop.Stop();
  ASSERT_TRUE(thread.Finished());
}

TEST(Stop, FromAnotherThreadEndsRun) {
  EventLoop loop(Opts());
  Running running(loop);
  LoopThread thread(loop);
  ASSERT_TRUE(running.Wait());
  testing::WaitUntilBlockedInKernel(
      running.tid());  // best effort: Stop a sleeping loop
  loop.Stop();
  EXPECT_TRUE(thread.Finished()) << "Stop() must wake the loop and end Run()";
}

TEST(Stop, BeforeRunEndsTheFirstTurnAndIsThenForgotten) {
  EventLoop loop(Opts());
  loop.Stop();
  {
    LoopThread thread(loop);
    ASSERT_TRUE(thread.Finished())
        << "Stop() before Run() must end the first turn";
  }
  Running running(loop);
  LoopThread second(loop);
  EXPECT_TRUE(running.Wait()) << "a second Run() must run until its own Stop()";
  loop.handle().Stop();
  EXPECT_TRUE(second.Finished());
}

TEST(Signals, SigtermAndSigintStopTheLoopAndTheOldHandlersComeBack) {
  struct sigaction before;
  ASSERT_EQ(sigaction(SIGTERM, nullptr, &before), 0);
  EventLoop loop(Opts());
  loop.StopOnSignals();

  ASSERT_EQ(kill(getpid(), SIGTERM),
            0);  // before Run: its byte waits in the pipe
  {
    LoopThread thread(loop);
    ASSERT_TRUE(thread.Finished()) << "SIGTERM did not stop the loop";
  }
  EXPECT_EQ(loop.stopped_by_signal(), SIGTERM);

  Running running(loop);
  LoopThread thread(loop);
  ASSERT_TRUE(running.Wait());
  ASSERT_EQ(kill(getpid(), SIGINT), 0);  // while running
  ASSERT_TRUE(thread.Finished()) << "SIGINT did not stop the loop";
  EXPECT_EQ(loop.stopped_by_signal(), SIGINT);

  loop.RestoreSignals();
  struct sigaction after;
  ASSERT_EQ(sigaction(SIGTERM, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, before.sa_handler)
      << "RestoreSignals must put the old handler back";
}

TEST(Signals, OneLoopAtATimeAndNoFdLeaks) {
  int fds_before = 0;
  for (int i = 0; i <= 200; ++i) {
    if (i == 1) fds_before = testing::CountOpenFds();  // after one-time setup

    EventLoop first(Opts(1));
    first.StopOnSignals();
    EventLoop second(Opts(1));
    EXPECT_THROW(second.StopOnSignals(), std::logic_error);
    first.RestoreSignals();
    second.StopOnSignals();  // free again
    Pipe pipe = NonBlockingPipe();
    second.Watch(pipe.read.get(), Interest::kReadable, [](const Event&) {});
    second.Unwatch(pipe.read.get());
    second.RestoreSignals();
  }
  EXPECT_EQ(testing::CountOpenFds(), fds_before)
      << "200 loops with signals and watches leaked descriptors";
}

// Where this file's backend is not built (epoll outside Linux), every test
// here is skipped: event_loop_kqueue_test is the same file on this system's
// kqueue. (Last in the file, so that the line numbers READMEs quote hold.)
class BackendBuilt : public ::testing::Environment {
 public:
  void SetUp() override {
    bool built = false;
    for (Backend b : AvailableBackends()) built = built || b == kBackend;
    if (!built) {
      GTEST_SKIP() << BackendName(kBackend) << " is not built on this OS";
    }
  }
};
::testing::Environment* const kBackendBuilt =
    ::testing::AddGlobalTestEnvironment(new BackendBuilt);

}  // namespace
}  // namespace loop
