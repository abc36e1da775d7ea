// The finished event loop library: everything a program needs from lessons
// 01-11, behind one include.
//
//   #include "loop/loop.h"        deps = ["//:loop"]
//
// What it gathers (the reference solutions, never a learner's code):
//   loop/fd.h        Fd, Pipe, MakePipe, MakeSocketPair     (solutions/01_fd)
//   loop/event.h     Token, Interest, Event, Events         (solutions/04_poll)
//   loop/selector.h  Backend, AvailableBackends, DefaultBackend
//   loop/registry.h  Registry (solutions/05_registry) loop/poll.h      Poll
//   loop/arc.h       Arc, Weak                              (solutions/08_arc)
//   loop/waker.h     Waker, WakerKind, WakeResult (solutions/10_fast_waker)
//   loop/event_loop.h EventLoop, LoopHandle, Result (solutions/11_event_loop)
//
// Ownership: a Poll owns its selector fd and its Registry (hand out
// Registry&, valid while the Poll lives). The caller owns every fd it
// registers and deregisters it before closing it. A Waker's wake source is
// shared by every Waker handle and the Poll (Arc): either may go first, no
// wake is lost and no foreign fd is touched. Each Waker constructor adds a
// source the Poll keeps until it is destroyed: make one Waker per token per
// Poll and copy it.
//
// Thread safety: Poll::Wait from one thread at a time; Registry methods and
// Waker::Wake from any thread, also while Wait is blocked (a Wake while one is
// pending makes no system call); Waker::Drain on the
// polling thread. Events buffers belong to the thread that polls with them.
//
// Why this file lives in loop/ at the top level: every lesson header is
// included as "loop/<name>.h", so the umbrella sits beside them in the same
// namespace of names, and a file at the repository root cannot be mistaken for
// lesson code (lessons/, solutions/) or test code (tests/).
#ifndef LOOP_LOOP_H_
#define LOOP_LOOP_H_

#include "loop/arc.h"
#include "loop/event.h"
#include "loop/event_loop.h"
#include "loop/fd.h"
#include "loop/poll.h"
#include "loop/registry.h"
#include "loop/selector.h"
#include "loop/waker.h"

#endif  // LOOP_LOOP_H_
