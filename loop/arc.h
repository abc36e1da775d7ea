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
#ifndef LOOP_ARC_H_
#define LOOP_ARC_H_

#include <atomic>
#include <utility>

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
  Arc(const Arc& other) noexcept : block_(other.block_) {
    // Relaxed is enough. We already hold a reference (through `other`), so the
    // count is at least 1 and cannot reach zero under us; and an increment
    // publishes nothing that another thread needs to read. Only the number
    // must be exact, and every atomic read-modify-write keeps it exact.
    if (block_ != nullptr) {
      block_->strong.fetch_add(1, std::memory_order_relaxed);
    }
  }

  Arc& operator=(const Arc& other) noexcept {
    // Clone first, release second. Releasing first goes wrong twice: if
    // `other` is *this, Release() empties it; and if `other` lives inside our
    // own T (a node assigned its own `next`), dropping our T can destroy the
    // very Arc we are about to clone.
    internal::ArcBlock<T>* incoming = other.block_;
    if (incoming != nullptr) {
      incoming->strong.fetch_add(1, std::memory_order_relaxed);
    }
    Release();
    block_ = incoming;
    return *this;
  }

  // A move hands our ownership over: no count changes, `other` is left empty.
  Arc(Arc&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}

  Arc& operator=(Arc&& other) noexcept {
    // Take first, release second, as above (this also makes a = move(a) safe).
    internal::ArcBlock<T>* incoming = std::exchange(other.block_, nullptr);
    Release();
    block_ = incoming;
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
    // Relaxed, for the same reason as a clone: we own a strong reference, so
    // the Arcs' shared weak count is still there and `weak` cannot reach zero.
    if (block_ != nullptr) block_->weak.fetch_add(1, std::memory_order_relaxed);
    return Weak<T>(block_);
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
    internal::ArcBlock<T>* block = std::exchange(block_, nullptr);
    if (block == nullptr) return;
    // acq_rel. The release half publishes everything this thread did to the T
    // before it let go. The acquire half matters to the last owner only: its
    // decrement reads the value that all earlier decrements left, so it
    // acquires what each of those owners released, and every use of the T on
    // every thread happens-before the destructor below. Without it, ~T could
    // read stale fields, or free memory another thread is still writing.
    //
    // Rust's Arc decrements with release and adds an acquire fence on the last
    // owner only: the same guarantee, a little cheaper on ARM. We keep acq_rel
    // because ThreadSanitizer does not understand standalone fences and would
    // report a race that is not there.
    if (block->strong.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    block->DestroyValue();
    ReleaseWeak(block);
  }

  // Drops one weak count; whoever drops the last one frees the block. Weak uses
  // it too.
  static void ReleaseWeak(internal::ArcBlock<T>* block) noexcept {
    // acq_rel for the same reason as the strong count: every other thread's
    // last touch of the block (an Upgrade reading `strong`, say) must
    // happen-before the delete.
    if (block->weak.fetch_sub(1, std::memory_order_acq_rel) == 1) delete block;
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

  Weak(const Weak& other) noexcept : block_(other.block_) {
    // Relaxed: `other` holds a weak count, so the block cannot go away now.
    if (block_ != nullptr) block_->weak.fetch_add(1, std::memory_order_relaxed);
  }

  Weak& operator=(const Weak& other) noexcept {
    // Add first, release second: self-assignment stays harmless.
    internal::ArcBlock<T>* incoming = other.block_;
    if (incoming != nullptr) {
      incoming->weak.fetch_add(1, std::memory_order_relaxed);
    }
    Release();
    block_ = incoming;
    return *this;
  }

  Weak(Weak&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}

  Weak& operator=(Weak&& other) noexcept {
    internal::ArcBlock<T>* incoming = std::exchange(other.block_, nullptr);
    Release();
    block_ = incoming;
    return *this;
  }

  ~Weak() { Release(); }

  // A new owner if the T still lives; an empty Arc if the last owner has gone.
  Arc<T> Upgrade() const noexcept {
    if (block_ == nullptr) return Arc<T>();
    // Never a plain fetch_add. Between our look at the count and our add, the
    // last owner may take it to zero and start destroying the T; adding 1 then
    // would hand out an Arc to a dead T (destroyed a second time when that Arc
    // goes away). Zero is final. So we add only if the count still holds the
    // non-zero value we saw, and look again if another thread changed it.
    long count = block_->strong.load(std::memory_order_relaxed);
    while (count != 0) {
      // Acquire on success, like the last owner's decrement: what the other
      // owners wrote to the T before they dropped their Arcs becomes visible
      // to the new owner. Relaxed on failure: we only retry with the fresh
      // count (the CAS stores it in `count`), and read nothing else.
      if (block_->strong.compare_exchange_weak(count, count + 1,
                                               std::memory_order_acquire,
                                               std::memory_order_relaxed)) {
        return Arc<T>(block_);
      }
    }
    return Arc<T>();
  }

  // True once the T is gone (or for an empty Weak). True is final; false is a
  // snapshot that may be stale by the time you act on it. To use the T,
  // Upgrade() instead.
  bool expired() const noexcept {
    return block_ == nullptr ||
           block_->strong.load(std::memory_order_relaxed) == 0;
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

#endif  // LOOP_ARC_H_
