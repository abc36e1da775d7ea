#include "loop/registry.h"

#include <fcntl.h>

#include <cerrno>
#include <sstream>
#include <string>
#include <utility>

#include "lessons/todo.h"
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

}  // namespace

Registry::Registry(Selector& selector) : selector_(selector) {}

// Each method below: lock mu_ first (any thread may call, also while another
// thread waits in Poll::Wait, which never takes mu_); then check; then call the
// selector; then update registrations_. Report errors with
//   throw RegistryError(Where("Register", fd, &token, &interest), EEXIST,
//                       "what to do about it");

void Registry::Register(int fd, Token token, Interest interest) {
  LOOP_TODO("05", "05_registry",
            Where("Register", fd, &token, &interest) +
                ": refuse a closed fd (EBADF: ask fcntl(fd, F_GETFD)), then an "
                "fd already in registrations_ (EEXIST); then call "
                "selector_.Register and record the fd");
}

void Registry::Reregister(int fd, Token token, Interest interest) {
  LOOP_TODO(
      "05", "05_registry",
      Where("Reregister", fd, &token, &interest) +
          ": refuse a closed fd (EBADF), then an fd not in registrations_ "
          "(ENOENT); then call selector_.Reregister and update the entry");
}

void Registry::Deregister(int fd) {
  LOOP_TODO("05", "05_registry",
            Where("Deregister", fd) +
                ": refuse a closed fd (EBADF, after erasing it from "
                "registrations_ if it is there), then an fd not in "
                "registrations_ (ENOENT); then call selector_.Deregister "
                "(tolerating its ENOENT) and erase the entry");
}

Backend Registry::backend() const { return selector_.backend(); }

int Registry::selector_fd() const { return selector_.fd(); }

// Given: lesson 09 explains why a Poll keeps resources alive until it is
// destroyed, lesson 10 what a report hook is for.
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
