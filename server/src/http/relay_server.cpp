// The relay's listeners and their hardening against cpp-httplib 0.11.4 (../shared/FACTS.md).
#include "satchel/relay/relay_server.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <iostream>

#include "http/guarded_server.h"
#include "http/http_answers.h"
#include "http/http_endpoints.h"
#include "http/request_guard.h"
#include "satchel/relay/tls_identity.h"

namespace satchel::relay {

namespace {

constexpr size_t kKeepAliveRequests = 100;
constexpr auto kHousekeepingPeriod = std::chrono::hours(1);
constexpr int64_t kRetentionNoticeDays = 7;

ConnectionLimits connection_limits(const RelayLimits& l) {
  using std::chrono::seconds;
  ConnectionLimits c;
  c.read_idle = seconds(l.read_timeout_seconds);
  c.write_idle = seconds(l.write_timeout_seconds);
  c.keep_alive = seconds(l.keep_alive_seconds);
  c.head_deadline = seconds(l.request_head_seconds);
  c.body_grace = seconds(l.body_grace_seconds);
  c.min_body_bytes_per_second = l.min_body_bytes_per_second;
  c.max_requests = kKeepAliveRequests;
  return c;
}

// The error code of a refusal cpp-httplib wrote itself, or that a read failure caused.
std::pair<int, const char*> library_refusal(int status) {
  if (const BoundedStream* s = current_stream()) {
    switch (s->failure()) {
      case ReadFailure::kHeadTooLarge:
        return {431, "headers-too-large"};
      case ReadFailure::kHeadTooSlow:
        return {408, "request-timeout"};
      case ReadFailure::kBodyTooSlow:
        return {408, "too-slow"};
      case ReadFailure::kStalled:
        return {408, "request-timeout"};
      case ReadFailure::kHeadMalformed:
        return {400, "bad-request"};
      default:
        break;
    }
  }
  switch (status) {
    case 413:
      return {413, "payload-too-large"};
    case 414:
      return {414, "uri-too-long"};
    case 416:
      return {416, "range-not-satisfiable"};
    case 404:
      return {404, "not-found"};
    case 405:
      return {405, "method-not-allowed"};
    default:
      return {status >= 500 ? 500 : 400, status >= 500 ? "internal" : "bad-request"};
  }
}

void harden(httplib::Server& server, const RelayLimits& limits) {
  server.set_read_timeout(static_cast<time_t>(limits.read_timeout_seconds), 0);
  server.set_write_timeout(static_cast<time_t>(limits.write_timeout_seconds), 0);
  server.set_keep_alive_timeout(static_cast<time_t>(limits.keep_alive_seconds));
  server.set_keep_alive_max_count(kKeepAliveRequests);
  server.set_payload_max_length(static_cast<size_t>(
      std::max<uint64_t>({limits.max_bundle_bytes, limits.max_document_bytes, 4096})));
  server.set_tcp_nodelay(true);
  // Without this, cpp-httplib answers an exception with its text in an EXCEPTION_WHAT header.
  server.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
        res.headers.clear();
        refuse(req, res, 500, "internal", true);
      });
  // Answers the library writes itself (414, 416, 400 for a bad head, and a body that failed to
  // arrive) get the documented JSON error body, and Connection: close whenever the request's
  // bytes were not all read: the connection layer closes such a connection after the answer.
  server.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        const BoundedStream* s = current_stream();
        const bool unread = s && !s->framing().at_request_boundary();
        if (!res.body.empty() || res.content_provider_) {
          if (unread) res.set_header("Connection", "close");
          return httplib::Server::HandlerResponse::Unhandled;
        }
        const auto [status, code] = library_refusal(res.status);
        res.status = status;
        refuse(req, res, status, code, unread);
        return httplib::Server::HandlerResponse::Handled;
      }));
}

}  // namespace

RelayServer::RelayServer(const RelayConfig& config, RelayStore& store, const Clock& clock,
                         const Hash32& pin)
    : config_(config), pin_(pin), relay_(std::make_unique<Relay>(config_, store, clock, pin)) {}

RelayServer::~RelayServer() {
  stop();
}

Result<std::unique_ptr<RelayServer>> RelayServer::create(const RelayConfig& config,
                                                         RelayStore& store, const Clock& clock) {
  Hash32 pin{};
  if (config.challenge_pin) {
    pin = *config.challenge_pin;
  } else {
    auto p = certificate_pin(config.certificate);
    if (!p) return p.error();
    pin = *p;
  }
  // A write to a client that has gone must fail, not kill the process: OpenSSL writes to the
  // socket with write(2), which raises SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<RelayServer> server(new RelayServer(config, store, clock, pin));
  const RelayConfig& c = server->config_;
  if (c.tls) {
    Status tls_status;
    auto api = std::make_unique<GuardedTlsServer>(
        connection_limits(c.limits), c.limits.threads, [&](SSL_CTX& ctx) {
          tls_status = configure_server_tls(ctx, c.certificate, c.private_key);
          return tls_status.ok();
        });
    if (!tls_status) return tls_status.error();
    if (!api->is_valid()) return make_error(Errc::kIoError, "cannot set up TLS");
    server->api_ = std::move(api);
  } else {
    server->api_ = std::make_unique<GuardedServer>(connection_limits(c.limits), c.limits.threads);
  }
  Relay& relay = *server->relay_;
  harden(*server->api_, c.limits);
  server->api_->set_pre_routing_handler(
      [&relay](const httplib::Request& req, httplib::Response& res) {
        return guard_request(relay, req, res);
      });
  add_device_endpoints(*server->api_, relay);
  add_coordinator_endpoints(*server->api_, relay);

  if (c.health) {
    RelayLimits health_limits = c.limits;
    server->health_ = std::make_unique<GuardedServer>(connection_limits(health_limits), 2);
    health_limits.max_bundle_bytes = 0;
    health_limits.max_document_bytes = 0;
    harden(*server->health_, health_limits);
    server->health_->set_pre_routing_handler(
        [](const httplib::Request& req, httplib::Response& res) {
          if (req.path == "/health" && (req.method == "GET" || req.method == "HEAD") &&
              !req.has_header("Transfer-Encoding") && !req.has_header("Content-Length") &&
              !req.has_header("Range"))
            return httplib::Server::HandlerResponse::Unhandled;
          refuse(req, res, 404, "not-found", true);
          return httplib::Server::HandlerResponse::Handled;
        });
    server->health_->Get("/health", [](const httplib::Request& req, httplib::Response& res) {
      answer(req, res, 200, "ok\n", "text/plain; charset=utf-8", false);
    });
  }
  return server;
}

Status RelayServer::start() {
  const RelayConfig& c = config_;
  if (c.listen_port == 0) {
    const int port = api_->bind_to_any_port(c.listen_host);
    if (port <= 0) return make_error(Errc::kIoError, "cannot listen on " + c.listen_host);
    port_ = static_cast<uint16_t>(port);
  } else {
    if (!api_->bind_to_port(c.listen_host, c.listen_port))
      return make_error(Errc::kIoError,
                        "cannot listen on " + c.listen_host + ":" + std::to_string(c.listen_port));
    port_ = c.listen_port;
  }
  if (health_) {
    const int hp = c.health_port == 0
                       ? health_->bind_to_any_port(c.health_host)
                       : (health_->bind_to_port(c.health_host, c.health_port) ? c.health_port : -1);
    if (hp <= 0) {
      api_->stop();
      return make_error(Errc::kIoError, "cannot listen for health checks on " + c.health_host);
    }
    health_port_ = static_cast<uint16_t>(hp);
    health_thread_ = std::thread([this] { health_->listen_after_bind(); });
  }
  api_thread_ = std::thread([this] { api_->listen_after_bind(); });
  housekeeping_thread_ = std::thread([this] { housekeeping_loop(); });
  // cpp-httplib's stop() does nothing until the listening loop has started: wait for it, so a
  // stop() right after start() cannot leave a thread listening forever.
  for (int i = 0; i < 5000; i++) {
    if (api_->is_running() && (!health_ || health_->is_running())) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop();
  return make_error(Errc::kIoError, "the listeners did not start");
}

void RelayServer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (api_) api_->stop();
  if (health_) health_->stop();
  if (api_thread_.joinable()) api_thread_.join();
  if (health_thread_.joinable()) health_thread_.join();
  if (housekeeping_thread_.joinable()) housekeeping_thread_.join();
}

void RelayServer::housekeeping_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    auto report = housekeep();
    if (!report)
      std::cerr << "satchel-relay: housekeeping failed: " << report.error().message << "\n";
    lock.lock();
    wake_.wait_for(lock, kHousekeepingPeriod, [this] { return stopping_; });
  }
}

Result<HousekeepingReport> RelayServer::housekeep() {
  RelayStore& store = relay_->store;
  const Clock& clock = relay_->clock;
  const Day today = clock.today();
  auto report =
      store.expire(today - static_cast<Day>(config_.partial_expiry_days), today, clock.now());
  if (!report) return report;
  auto since = store.retention_since(config_.retention_days, today);
  if (!since) return since.error();
  if (config_.retention_days > 0 && today >= *since + kRetentionNoticeDays) {
    auto mailboxes = store.mailboxes();
    if (!mailboxes) return mailboxes.error();
    size_t removed = 0;
    for (const MailboxRecord& m : *mailboxes) {
      auto n = store.remove_stored_before(m.id, today - config_.retention_days + 1, today);
      if (!n) return n.error();
      removed += *n;
    }
    if (removed > 0)
      std::cerr << "satchel-relay: retention removed " << removed << " unacknowledged bundle(s)\n";
  }
  return report;
}

}  // namespace satchel::relay
