// RelayServer: the relay's listeners — the API over TLS 1.3 (cpp-httplib SSLServer built with
// the SSL_CTX callback constructor; plain HTTP only on loopback behind a TLS proxy) and a plain
// health check on a loopback address — plus the hourly housekeeping. It neutralises
// cpp-httplib's traps: a pre-routing guard before any body is read, a generic exception
// answer, runtime timeouts and a larger thread pool.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "satchel/relay/relay.h"

namespace httplib {
class Server;
}

namespace satchel::relay {

class RelayServer {
 public:
  // Prepares the listeners for `config` (loading and checking the certificate and key). The
  // store and clock must outlive the server.
  static Result<std::unique_ptr<RelayServer>> create(const RelayConfig& config, RelayStore& store,
                                                     const Clock& clock);
  ~RelayServer();
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;

  // Binds the listeners (port 0 picks a free port) and serves on background threads; runs
  // housekeeping now and then every hour.
  Status start();
  // Stops accepting, lets requests in progress finish, and joins every thread. Idempotent.
  void stop();
  uint16_t port() const { return port_; }
  uint16_t health_port() const { return health_port_; }
  // The SPKI pin coordinator challenges are bound to.
  const Hash32& challenge_pin() const { return pin_; }
  // One housekeeping pass: expired partial uploads, tombstones and codes, operator retention.
  Result<HousekeepingReport> housekeep();
  // The relay's shared state (tests inspect it).
  Relay& relay() { return *relay_; }

 private:
  RelayServer(const RelayConfig& config, RelayStore& store, const Clock& clock, const Hash32& pin);
  void housekeeping_loop();

  RelayConfig config_;
  Hash32 pin_;
  std::unique_ptr<Relay> relay_;
  std::unique_ptr<httplib::Server> api_;
  std::unique_ptr<httplib::Server> health_;
  uint16_t port_ = 0;
  uint16_t health_port_ = 0;
  std::thread api_thread_, health_thread_, housekeeping_thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace satchel::relay
