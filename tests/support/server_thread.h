// A lesson 12 Server (loop/redis/server.h) running Run() on its own thread,
// for tests that talk to it over loopback. The destructor stops it and waits.
//
//   ServerThread s(options);
//   RespClient c = s.Connect();   // gives up at once if Run() threw
//
// Header only, on purpose: the test's own deps decide which Server it is (the
// learner's in lesson 12, the library's in tests/redis). Thread-safe as noted
// on each member.
#ifndef TESTS_SUPPORT_SERVER_THREAD_H_
#define TESTS_SUPPORT_SERVER_THREAD_H_

#include <atomic>
#include <exception>
#include <memory>
#include <string>
#include <thread>

#include "loop/redis/server.h"
#include "tests/support/deadline.h"
#include "tests/support/resp_client.h"
#include "tests/support/threads.h"

namespace loop {
namespace testing {

// A Server running on its own thread. The destructor stops it and waits.
class ServerThread {
 public:
  // Binds and listens now; runs the server now, or when Start() is called
  // (clients may connect and send before it runs: the kernel queues them).
  explicit ServerThread(ServerOptions options, bool run_now = true)
      : server_(std::make_unique<Server>(options)) {
    if (run_now) Start();
  }
  void Start() {
    thread_ = std::thread([this] {
      tid_.store(CurrentThreadId());
      try {
        server_->Run();
      } catch (const std::exception& e) {
        error_ = e.what();
        failed_.store(true);
      } catch (...) {
        error_ = "a non-std exception";
        failed_.store(true);
      }
      finished_.store(true);
    });
  }
  ~ServerThread() {
    server_->Stop();
    if (thread_.joinable()) thread_.join();
  }

  Server& server() { return *server_; }
  int port() const { return server_->port(); }
  long tid() const { return tid_.load(); }
  bool finished() const { return finished_.load(); }
  // Why the server thread died, or "".
  std::string Failure() const {
    return failed_.load() ? "Server::Run threw: " + error_ : std::string();
  }
  RespClient Connect() {
    return RespClient::Connect(port(), [this] { return Failure(); });
  }
  // Stops the server and waits for Run() to return.
  bool StopAndWait(milliseconds deadline = kDefaultDeadline) {
    server_->Stop();
    return WaitUntil([this] { return finished(); }, deadline);
  }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::atomic<long> tid_{0};
  std::atomic<bool> failed_{false};
  std::atomic<bool> finished_{false};
  std::string error_;  // written before failed_ is set
};

}  // namespace testing
}  // namespace loop

#endif  // TESTS_SUPPORT_SERVER_THREAD_H_
