// GuardedServer and GuardedTlsServer (see guarded_server.h).
#include "http/guarded_server.h"

namespace satchel::relay {

namespace {

// cpp-httplib's pool, counting the connections queued for a worker.
class CountingWorkers final : public httplib::ThreadPool {
 public:
  CountingWorkers(size_t threads, WaitingConnections waiting)
      : httplib::ThreadPool(threads), waiting_(std::move(waiting)) {}
  void enqueue(std::function<void()> fn) override {
    ++*waiting_;
    httplib::ThreadPool::enqueue([waiting = waiting_, fn = std::move(fn)] {
      --*waiting;
      fn();
    });
  }

 private:
  WaitingConnections waiting_;
};

}  // namespace

std::function<httplib::TaskQueue*()> counting_workers(size_t threads, WaitingConnections waiting) {
  return [threads, waiting] { return new CountingWorkers(threads, waiting); };
}

GuardedServer::GuardedServer(const ConnectionLimits& limits, size_t threads)
    : limits_(limits), waiting_(std::make_shared<std::atomic<size_t>>(0)) {
  new_task_queue = counting_workers(threads, waiting_);
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  const SteadyTime accepted = std::chrono::steady_clock::now();
  auto transport = plain_transport(sock);
  serve_connection(*transport, limits_, accepted, svr_sock_, *waiting_,
                   [this](httplib::Stream& strm, bool close_connection, bool& connection_closed) {
                     return process_request(strm, close_connection, connection_closed, nullptr);
                   });
  return true;
}

GuardedTlsServer::GuardedTlsServer(const ConnectionLimits& limits, size_t threads,
                                   const std::function<bool(SSL_CTX&)>& setup)
    : httplib::SSLServer(setup),
      limits_(limits),
      waiting_(std::make_shared<std::atomic<size_t>>(0)) {
  new_task_queue = counting_workers(threads, waiting_);
}

bool GuardedTlsServer::process_and_close_socket(socket_t sock) {
  const SteadyTime accepted = std::chrono::steady_clock::now();
  auto transport = tls_transport(sock, ssl_context(), accepted + limits_.head_deadline);
  if (!transport) return false;
  serve_connection(*transport, limits_, accepted, svr_sock_, *waiting_,
                   [this](httplib::Stream& strm, bool close_connection, bool& connection_closed) {
                     return process_request(strm, close_connection, connection_closed, nullptr);
                   });
  return true;
}

}  // namespace satchel::relay
