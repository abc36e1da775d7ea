// Arc<T> and Weak<T>: shared ownership of one T across threads.
//
//   auto a = Arc<Counter>::Make(0);   // one owner
//   Arc<Counter> b = a;               // a clone: two owners of one Counter
//   Weak<Counter> w = a.Downgrade();  // an observer, not an owner
//   a.reset();
//   b.reset();                        // the last owner destroys the Counter
//   w.Upgrade();                      // an empty Arc: it is gone for good
//
// Ownership: every non-empty Arc owns the T together with its clones; the last
// one to go away (destructor, reset or assignment) destroys the T. A Weak owns
// none of the T. It keeps only the small control block alive, so that it can
// still tell whether the T lives.
//
// Thread safety: like std::shared_ptr. Different Arc and Weak objects may be
// copied, moved, assigned and destroyed on different threads at the same time,
// even when they share one T. One Arc or Weak *object* must not be written by
// one thread while another thread uses it. The T itself is only as thread-safe
// as T is: Arc shares it, it does not lock it.
//
// Memory layout (one allocation, like std::make_shared):
//
//   Arc  ---+
//   Arc  ---+--> [ strong | weak | T ]
//   Weak ---+
//
// Lesson 08: the bodies marked TODO(lesson 08) are yours, in the order of the
// README's steps. The rest (the control block, Make, get, ==, use_count, and
// the destructors and reset(), which call Release()) is done.
#ifndef LESSONS_08_ARC_ARC_H_
#define LESSONS_08_ARC_ARC_H_

#include <atomic>
#include <utility>

#include "lessons/todo.h"

namespace loop {

template <typename T>
class Arc;
template <typename T>
class Weak;

namespace internal {

// The control block: both counts and the T in one heap allocation.
//
//   strong  how many Arcs own the T. The T lives exactly while strong > 0.
//   weak    how many Weaks point here, plus ONE held by all the Arcs together
//           while strong > 0. The block lives exactly while weak > 0.
//
// Why the Arcs share one weak count: the block must outlive both the last Arc
// and the last Weak, and those two may go away on different threads at the
// same moment. If each side freed the block when "its" count reached zero,
// both might free it, or one might free it while the other still reads it. So
// there is a single count whose zero means "nobody at all needs the block":
// each Weak counts one, and the whole group of Arcs counts as one more, which
// the last Arc gives back after destroying the T. Whoever takes `weak` to zero
// frees the block, and that happens exactly once.
template <typename T>
struct ArcBlock {
  template <typename... Args>
  explicit ArcBlock(Args&&... args) : value(std::forward<Args>(args)...) {}
  // Does not destroy the T: the last Arc does that early, with DestroyValue(),
  // while Weaks may still keep the block (and its counts) alive.
  ~ArcBlock() {}
  ArcBlock(const ArcBlock&) = delete;
  ArcBlock& operator=(const ArcBlock&) = delete;

  void DestroyValue() noexcept { value.~T(); }

  std::atomic<long> strong{1};  // Make() creates the first owner.
  std::atomic<long> weak{1};    // The one weak count all the Arcs share.
  union {
    T value;  // In a union so that it can die before the block does.
  };
};

}  // namespace internal

// An atomically reference-counted shared owner of a T (Rust's Arc,
// std::shared_ptr).
template <typename T>
class Arc {
 public:
  // An empty Arc owns nothing: get() is nullptr and use_count() is 0.
  Arc() noexcept = default;

  // Builds a T from `args` (with parentheses, like std::make_shared) in the
  // same heap allocation as the counts, and returns its first owner.
  template <typename... Args>
  static Arc Make(Args&&... args) {
    return Arc(new internal::ArcBlock<T>(std::forward<Args>(args)...));
  }

  // A clone: one more owner of the same T.
  Arc(const Arc& other) noexcept {
    // TODO(lesson 08): Step 1. Point at other's block and, if there is one,
    // add 1 to its strong count. Which memory order is enough, given that
    // `other` already owns a share?
    (void)other;
  }

  Arc& operator=(const Arc& other) noexcept {
    // TODO(lesson 08): Step 3. Clone `other`, then Release() our old value, in
    // that order (think of a = a).
    (void)other;
    return *this;
  }

  // A move hands our ownership over: no count changes, `other` is left empty.
  Arc(Arc&& other) noexcept {
    // TODO(lesson 08): Step 3. Take other's block and leave `other` empty.
    (void)other;
  }

  Arc& operator=(Arc&& other) noexcept {
    // TODO(lesson 08): Step 3. Take other's block, then Release() our old one.
    (void)other;
    return *this;
  }

  ~Arc() { Release(); }

  T* get() const noexcept {
    return block_ == nullptr ? nullptr : &block_->value;
  }
  T& operator*() const noexcept { return block_->value; }
  T* operator->() const noexcept { return &block_->value; }
  explicit operator bool() const noexcept { return block_ != nullptr; }

  // Gives up this owner's share and leaves this Arc empty.
  void reset() noexcept { Release(); }

  // The number of Arcs that own the T; 0 when empty. A snapshot: other threads
  // may clone or drop at any moment, so it is for tests and diagnostics, not
  // for decisions.
  long use_count() const noexcept {
    return block_ == nullptr ? 0
                             : block_->strong.load(std::memory_order_relaxed);
  }

  // A Weak that observes this T without owning it; empty if this Arc is.
  Weak<T> Downgrade() const {
    LOOP_TODO("08", "08_arc",
              "Step 4: Arc::Downgrade: if there is a block, add 1 to its weak "
              "count; return Weak<T>(block_)");
  }

  // Same control block (so the same T), or both empty.
  friend bool operator==(const Arc& a, const Arc& b) noexcept {
    return a.block_ == b.block_;
  }
  friend bool operator!=(const Arc& a, const Arc& b) noexcept {
    return a.block_ != b.block_;
  }

 private:
  friend class Weak<T>;

  // Adopts one strong count that the caller has already added (Make, Upgrade).
  explicit Arc(internal::ArcBlock<T>* block) noexcept : block_(block) {}

  // Drops this owner's share and leaves this Arc empty. The last owner destroys
  // the T, then gives back the weak count that all the Arcs shared.
  void Release() noexcept {
    // TODO(lesson 08): Step 2. Take block_, leaving this Arc empty. If there
    // was a block, subtract 1 from its strong count; the owner that took it
    // from 1 to 0 calls DestroyValue(), then ReleaseWeak(). Which memory order
    // makes the other owners' writes to the T visible to that destructor?
  }

  // Drops one weak count; whoever drops the last one frees the block. Weak uses
  // it too.
  static void ReleaseWeak(internal::ArcBlock<T>* block) noexcept {
    // TODO(lesson 08): Step 2. Subtract 1 from block->weak; if that was the
    // last one, delete the block.
    (void)block;
  }

  internal::ArcBlock<T>* block_ = nullptr;
};

// An observer of an Arc's T that does not keep the T alive (Rust's Weak,
// std::weak_ptr). It can tell whether the T still lives, and Upgrade() to an
// owner if it does.
template <typename T>
class Weak {
 public:
  // An empty Weak observes nothing: expired() is true, Upgrade() returns an
  // empty Arc.
  Weak() noexcept = default;

  Weak(const Weak& other) noexcept {
    // TODO(lesson 08): Step 4. Arc's copy constructor, on the weak count.
    (void)other;
  }

  Weak& operator=(const Weak& other) noexcept {
    // TODO(lesson 08): Step 4. Arc's copy assignment, on the weak count.
    (void)other;
    return *this;
  }

  Weak(Weak&& other) noexcept {
    // TODO(lesson 08): Step 4. Exactly like Arc's move constructor.
    (void)other;
  }

  Weak& operator=(Weak&& other) noexcept {
    // TODO(lesson 08): Step 4. Exactly like Arc's move assignment.
    (void)other;
    return *this;
  }

  ~Weak() { Release(); }

  // A new owner if the T still lives; an empty Arc if the last owner has gone.
  Arc<T> Upgrade() const noexcept {
    // TODO(lesson 08): Step 5. Add 1 to the strong count only if it is not 0,
    // with a compare-exchange loop, and then return Arc<T>(block_). Never add
    // 1 to a count of 0: that T is already being destroyed.
    return Arc<T>();
  }

  // True once the T is gone (or for an empty Weak). True is final; false is a
  // snapshot that may be stale by the time you act on it. To use the T,
  // Upgrade() instead.
  bool expired() const noexcept {
    // TODO(lesson 08): Step 4. No block, or a strong count of 0.
    return true;
  }

 private:
  friend class Arc<T>;

  // Adopts one weak count that the caller has already added (Downgrade).
  explicit Weak(internal::ArcBlock<T>* block) noexcept : block_(block) {}

  void Release() noexcept {
    internal::ArcBlock<T>* block = std::exchange(block_, nullptr);
    if (block != nullptr) Arc<T>::ReleaseWeak(block);
  }

  internal::ArcBlock<T>* block_ = nullptr;
};

}  // namespace loop

#endif  // LESSONS_08_ARC_ARC_H_
