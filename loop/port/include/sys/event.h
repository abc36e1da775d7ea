// <sys/event.h> for Linux: the BSD kqueue API, emulated on epoll and eventfd.
//
// Lesson code includes <sys/event.h> and depends on //loop/port:sys_event. On
// macOS and the BSDs that target is empty and the system's own header and
// kernel are used; on Linux this header and loop/port/kqueue_emulation.cc
// provide the same API. The names, types and values follow FreeBSD's
// <sys/event.h> and its kqueue(2) manual.
//
// Scope: EVFILT_READ, EVFILT_WRITE and EVFILT_USER, with the flags and notes
// below; a change with any other flag or note (NOTE_LOWAT included) fails with
// EINVAL. Every known difference from a real kqueue is listed in
// docs/kqueue-emulation.md.
//
// Ownership: kqueue() returns a descriptor the caller owns and closes with
// close(2); the emulation keeps a little state per kqueue (one eventfd and a
// table of registrations) and frees it after the last descriptor of that kqueue
// is closed (lazily: at a later kqueue() call). kevent() never takes ownership
// of anything.
//
// Thread safety: as a real kqueue. kqueue() and kevent() may be called from any
// threads at once, on the same or different kqueues; a change made by one
// thread is seen by another thread blocked in kevent() on the same kqueue.
#ifndef LOOP_PORT_INCLUDE_SYS_EVENT_H_
#define LOOP_PORT_INCLUDE_SYS_EVENT_H_

#if !defined(__linux__)
#error "loop/port is for Linux; this system has its own <sys/event.h>."
#endif

#include <stdint.h>
#include <time.h>  // struct timespec

// Filters (struct kevent.filter). Only these three are emulated.
#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_USER (-11)

// Actions (struct kevent.flags, input).
#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008

// Behaviour of a registration (struct kevent.flags, input).
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_RECEIPT 0x0040
#define EV_DISPATCH 0x0080

// Returned values (struct kevent.flags, output).
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

// EVFILT_READ and EVFILT_WRITE: a per-filter low-water mark in `data`.
// Defined so that code written for BSD compiles; the emulation does not
// implement it, and a change that carries it fails with EINVAL.
#define NOTE_LOWAT 0x00000001u

// EVFILT_USER: the low 24 bits of fflags are the caller's; the top two bits
// say how a change combines them with the stored ones.
#define NOTE_FFNOP 0x00000000u
#define NOTE_FFAND 0x40000000u
#define NOTE_FFOR 0x80000000u
#define NOTE_FFCOPY 0xc0000000u
#define NOTE_FFCTRLMASK 0xc0000000u
#define NOTE_FFLAGSMASK 0x00ffffffu
#define NOTE_TRIGGER 0x01000000u

// One change (input) or one event (output). Field names and types as FreeBSD.
struct kevent {
  // Identifies the event with `filter`: a file descriptor for EVFILT_READ and
  // EVFILT_WRITE, any number the caller chooses for EVFILT_USER.
  uintptr_t ident;
  short filter;          // EVFILT_*
  unsigned short flags;  // EV_*
  unsigned int fflags;   // filter-specific flags (NOTE_*)
  int64_t data;          // filter-specific: bytes readable, space writable, ...
  void* udata;           // the caller's value, returned unchanged
  uint64_t ext[4];       // extensions, returned unchanged
};

// Fills *kevp; each argument is evaluated once. ext is zeroed, as on FreeBSD.
#define EV_SET(kevp, a, b, c, d, e, f)   \
  do {                                   \
    struct kevent* ev_set_kev_ = (kevp); \
    ev_set_kev_->ident = (a);            \
    ev_set_kev_->filter = (b);           \
    ev_set_kev_->flags = (c);            \
    ev_set_kev_->fflags = (d);           \
    ev_set_kev_->data = (e);             \
    ev_set_kev_->udata = (f);            \
    ev_set_kev_->ext[0] = 0;             \
    ev_set_kev_->ext[1] = 0;             \
    ev_set_kev_->ext[2] = 0;             \
    ev_set_kev_->ext[3] = 0;             \
  } while (0)

#ifdef __cplusplus
extern "C" {
#endif

// Creates a kqueue; returns its descriptor (close-on-exec), or -1 with errno
// set.
int kqueue(void);

// Applies `nchanges` changes, then returns up to `nevents` pending events,
// waiting up to `timeout` (NULL: forever; zero: do not wait). Returns the
// number of entries written to `eventlist`, or -1 with errno set. See
// kqueue(2).
int kevent(int kq, const struct kevent* changelist, int nchanges,
           struct kevent* eventlist, int nevents,
           const struct timespec* timeout);

// Not in a real <sys/event.h>: an extension of this emulation, for tests that
// count system calls. A real kevent() is one system call, which the kernel's
// per-thread counters (/proc/thread-self/io) do not show for the emulation,
// whose kevent() is a library function. This is how many times the calling
// thread has called kevent(). Code that uses it checks KQUEUE_EMULATION.
#define KQUEUE_EMULATION 1
unsigned long kqueue_emulation_kevent_calls(void);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // LOOP_PORT_INCLUDE_SYS_EVENT_H_
