// cpp-httplib servers whose connections go through BoundedStream (bounded heads, body rates
// and deadlines, a close after every answer that left bytes unread) instead of the library's
// own socket streams. Requests are still parsed, routed and answered by the library.
#pragma once

#include <httplib.h>

#include <functional>

#include "http/bounded_stream.h"

namespace satchel::relay {

// Plain HTTP: loopback behind a TLS proxy, and the health listener.
class GuardedServer final : public httplib::Server {
 public:
  explicit GuardedServer(const ConnectionLimits& limits) : limits_(limits) {}

 private:
  bool process_and_close_socket(socket_t sock) override;
  ConnectionLimits limits_;
};

// TLS 1.3 with the SSL_CTX set up by `setup` (as httplib::SSLServer's constructor does); the
// handshake must end within the head deadline.
class GuardedTlsServer final : public httplib::SSLServer {
 public:
  GuardedTlsServer(const ConnectionLimits& limits, const std::function<bool(SSL_CTX&)>& setup)
      : httplib::SSLServer(setup), limits_(limits) {}

 private:
  bool process_and_close_socket(socket_t sock) override;
  ConnectionLimits limits_;
};

}  // namespace satchel::relay
