// cpp-httplib servers whose connections go through BoundedStream (bounded heads, body rates
// and deadlines, a close after every answer that left bytes unread) instead of the library's
// own socket streams. Requests are still parsed, routed and answered by the library.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>

#include "http/bounded_stream.h"

namespace satchel::relay {

// Connections accepted but not yet taken by one of the `threads` workers; kept-alive idle
// connections give their worker up while it is above zero.
using WaitingConnections = std::shared_ptr<std::atomic<size_t>>;
std::function<httplib::TaskQueue*()> counting_workers(size_t threads, WaitingConnections waiting);

// Plain HTTP: loopback behind a TLS proxy, and the health listener.
class GuardedServer final : public httplib::Server {
 public:
  GuardedServer(const ConnectionLimits& limits, size_t threads);

 private:
  bool process_and_close_socket(socket_t sock) override;
  ConnectionLimits limits_;
  WaitingConnections waiting_;
};

// TLS 1.3 with the SSL_CTX set up by `setup` (as httplib::SSLServer's constructor does); the
// handshake counts against the first request's head deadline.
class GuardedTlsServer final : public httplib::SSLServer {
 public:
  GuardedTlsServer(const ConnectionLimits& limits, size_t threads,
                   const std::function<bool(SSL_CTX&)>& setup);

 private:
  bool process_and_close_socket(socket_t sock) override;
  ConnectionLimits limits_;
  WaitingConnections waiting_;
};

}  // namespace satchel::relay
