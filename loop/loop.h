// The finished event loop library, behind one include.
//
//   #include "loop/loop.h"        deps = ["//:loop"]
//
// What it gathers (every file once, in this folder):
//   loop/fd.h          Fd, Pipe, MakePipe, MakeSocketPair
//   loop/event.h       Token, Interest, Event, Events
//   loop/selector.h    Backend, AvailableBackends, DefaultBackend
//   loop/registry.h    Registry           loop/poll.h   Poll
//   loop/arc.h         Arc, Weak
//   loop/waker.h       Waker, WakerKind, WakeResult
//   loop/event_loop.h  EventLoop, LoopHandle, Result
//   loop/sys_error.h   SysError: errno name + what was being done
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
// pending makes no system call, and Wait drains a Waker's source itself when
// it reports the token). Events buffers belong to the thread that polls with
// them.
#ifndef LOOP_LOOP_H_
#define LOOP_LOOP_H_

#include "loop/arc.h"
#include "loop/event.h"
#include "loop/event_loop.h"
#include "loop/fd.h"
#include "loop/poll.h"
#include "loop/registry.h"
#include "loop/selector.h"
#include "loop/sys_error.h"
#include "loop/waker.h"

#endif  // LOOP_LOOP_H_
