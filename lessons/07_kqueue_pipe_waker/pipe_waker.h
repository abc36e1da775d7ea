// PipeWaker: lets any thread make a blocked Poll::Wait return, on any backend.
//
//   thread A                    pipe                  loop thread
//   waker.Wake()                [x x x]               poll.Wait() returns the
//     write 1 byte -----------> read end readable --> token; the loop calls
//                                                     waker.Drain()
//
// The waker owns a pipe (both ends close-on-exec and non-blocking) and
// registers the read end with the Registry for reading under the Token it was
// given. Unlike an eventfd counter or EVFILT_USER, a pipe holds every byte
// written to it, so the loop must call Drain() after each event with this
// waker's token: an undrained pipe fills up, and on a full pipe Wake() writes
// nothing and so produces no new event. Drain() before handling the work the
// wake announced, so that a wake arriving during the handling leaves a byte,
// and an event, behind.
//
// Ownership: the waker owns both ends of its pipe uniquely (Fd members) and
// refers to the Registry, which must outlive it. The destructor deregisters the
// read end and closes both ends. Lesson 09 shows what this costs: a wake
// written just before the destructor runs is lost.
//
// Thread safety: Wake() may be called from any thread at the same time (a write
// of one byte to a pipe is atomic). Drain() is for the loop thread.
// Construction and destruction must not race with either.
#ifndef LESSONS_07_KQUEUE_PIPE_WAKER_PIPE_WAKER_H_
#define LESSONS_07_KQUEUE_PIPE_WAKER_PIPE_WAKER_H_

#include "loop/fd.h"
#include "loop/registry.h"

namespace loop {

class PipeWaker {
 public:
  // Creates the pipe and registers its read end for reading under `token`.
  // Throws SysError; nothing is left open on failure.
  PipeWaker(Registry& registry, Token token);
  // Deregisters the read end and closes both ends. A failure is reported on
  // stderr (destructors cannot throw). A wake not yet seen by the loop is lost:
  // see lesson 09.
  ~PipeWaker();

  PipeWaker(const PipeWaker&) = delete;
  PipeWaker& operator=(const PipeWaker&) = delete;

  // Writes one byte. When the pipe is full (EAGAIN), writes nothing and
  // returns: a full pipe is readable and not yet drained, so a wake is already
  // pending. Throws SysError.
  void Wake();

  // Reads the pipe until it is empty (EAGAIN), so the next Wake() makes it
  // readable, and reported, again. Call it after every event with this waker's
  // token. Throws SysError.
  void Drain();

  // The pipe's ends, for tests that inspect or fill the pipe. Not for
  // production use.
  int read_fd_for_testing() const { return read_.get(); }
  int write_fd_for_testing() const { return write_.get(); }

 private:
  Registry& registry_;
  Fd read_;
  Fd write_;
};

}  // namespace loop

#endif  // LESSONS_07_KQUEUE_PIPE_WAKER_PIPE_WAKER_H_
