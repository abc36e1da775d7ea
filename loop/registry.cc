#include "loop/registry.h"

#include <fcntl.h>

#include <cerrno>
#include <sstream>
#include <string>
#include <utility>

#include "loop/sys_error.h"

namespace loop {
namespace {

// A SysError whose message also says what to do about it:
//   Registry::Register(fd 7, token 3, READABLE) failed: EEXIST (File exists)
//   followed by ": " and the advice.
// Callers catch it as SysError; err() is the errno value.
class RegistryError : public SysError {
 public:
  RegistryError(const std::string& where, int err, const std::string& advice)
      : SysError(where, err),
        message_(DescribeSysError(where, err) + ": " + advice) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// "Registry::Register(fd 7, token 3, READABLE)", the start of every message.
std::string Where(const char* method, int fd, const Token* token = nullptr,
                  const Interest* interest = nullptr) {
  std::ostringstream out;
  out << "Registry::" << method << "(fd " << fd;
  if (token != nullptr) out << ", token " << token->value;
  if (interest != nullptr) out << ", " << *interest;
  out << ")";
  return out.str();
}

// "fd 7 (token 3, READABLE)": what the table holds for `fd`.
std::string Describe(int fd, Token token, Interest interest) {
  std::ostringstream out;
  out << "fd " << fd << " (token " << token.value << ", " << interest << ")";
  return out.str();
}

// 0 if `fd` is an open descriptor, else the errno of fcntl(F_GETFD): EBADF.
// Asked before the table and the kernel, so that a closed fd is EBADF on every
// backend, and even when the table still holds its number.
int OpenError(int fd) { return fcntl(fd, F_GETFD) == -1 ? errno : 0; }

}  // namespace

Registry::Registry(Selector& selector) : selector_(selector) {}

void Registry::Register(int fd, Token token, Interest interest) {
  std::lock_guard<std::mutex> lock(mu_);
  if (int err = OpenError(fd)) {
    throw RegistryError(Where("Register", fd, &token, &interest), err,
                        "fd " + std::to_string(fd) +
                            " is not an open file descriptor; register an fd "
                            "you own and have not closed");
  }
  auto it = registrations_.find(fd);
  if (it != registrations_.end()) {
    throw RegistryError(
        Where("Register", fd, &token, &interest), EEXIST,
        Describe(fd, it->second.token, it->second.interest) +
            " is already registered; use Reregister to change its token or "
            "interest (if fd " +
            std::to_string(fd) +
            " was closed and reopened while registered, Deregister it first)");
  }
  // The kernel first: if it refuses (epoll: EPERM for a regular file), the
  // table must not claim the fd.
  selector_.Register(fd, token, interest);
  registrations_.emplace(fd, Registration{token, interest});
}

void Registry::Reregister(int fd, Token token, Interest interest) {
  std::lock_guard<std::mutex> lock(mu_);
  if (int err = OpenError(fd)) {
    throw RegistryError(
        Where("Reregister", fd, &token, &interest), err,
        "fd " + std::to_string(fd) +
            " is not an open file descriptor; was it closed while registered?");
  }
  auto it = registrations_.find(fd);
  if (it == registrations_.end()) {
    throw RegistryError(
        Where("Reregister", fd, &token, &interest), ENOENT,
        "fd " + std::to_string(fd) +
            " is not registered with this Registry; call Register first");
  }
  selector_.Reregister(fd, token, interest);
  it->second = Registration{token, interest};
}

void Registry::Deregister(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = registrations_.find(fd);
  if (int err = OpenError(fd)) {
    if (it == registrations_.end()) {
      throw RegistryError(
          Where("Deregister", fd), err,
          "fd " + std::to_string(fd) + " is not an open file descriptor");
    }
    // The kernel can no longer be told: the number names nothing. Forget it so
    // the number can be registered again once the kernel hands it out anew.
    std::string was = Describe(fd, it->second.token, it->second.interest);
    registrations_.erase(it);
    throw RegistryError(
        Where("Deregister", fd), err,
        was +
            " was closed while registered, so the Registry has forgotten it. "
            "Deregister before closing: on Linux, a dup of the fd keeps the "
            "closed fd's registration, and its events, alive (see "
            "lessons/05_registry/README.md)");
  }
  if (it == registrations_.end()) {
    throw RegistryError(Where("Deregister", fd), ENOENT,
                        "fd " + std::to_string(fd) +
                            " is not registered with this Registry (never "
                            "registered, or already deregistered)");
  }
  try {
    selector_.Deregister(fd);
  } catch (const SysError& e) {
    // The table knew the fd, the kernel did not: the fd was closed and its
    // number reused while registered (epoll says ENOENT; kqueue's selector
    // tolerates it, so tolerate it here too and both agree). What the caller
    // asked for, "fd is not registered", is true now.
    if (e.err() != ENOENT) throw;
  }
  registrations_.erase(it);
}

Backend Registry::backend() const { return selector_.backend(); }

int Registry::selector_fd() const { return selector_.fd(); }

void Registry::Retain(std::shared_ptr<void> resource) {
  std::lock_guard<std::mutex> lock(mu_);
  retained_.push_back(std::move(resource));
}

std::vector<std::shared_ptr<void>> Registry::TakeRetained() {
  std::vector<std::shared_ptr<void>> taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    taken = std::move(retained_);
  }
  std::lock_guard<std::mutex> lock(hooks_mu_);
  for (auto& entry : hooks_) taken.push_back(std::move(entry.second));
  hooks_.clear();
  has_hooks_.store(false, std::memory_order_release);
  return taken;
}

void Registry::OnReport(Token token, std::shared_ptr<ReportHook> hook) {
  std::lock_guard<std::mutex> lock(hooks_mu_);
  hooks_.emplace_back(token, std::move(hook));
  has_hooks_.store(true, std::memory_order_release);
}

void Registry::RunReportHooks(const Events& events) {
  if (events.empty() || !has_hooks_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(hooks_mu_);
  for (const auto& entry : hooks_) {
    for (const Event& event : events) {
      if (event.token() == entry.first) {
        entry.second->Reported();
        break;  // once per Wait, however many events carry the token
      }
    }
  }
}

}  // namespace loop
