// `satchel-relay serve --config FILE`: recovers the storage, serves until SIGTERM or SIGINT and
// stops cleanly. It logs one start line (address, storage, limits) and otherwise only failures:
// no addresses, user agents, tokens or times.
#include <signal.h>

#include <iostream>
#include <memory>
#include <sstream>

#include "commands/cli.h"
#include "satchel/relay/embedded_relay_store.h"
#include "satchel/relay/relay_config.h"
#include "satchel/relay/relay_server.h"

namespace satchel::relay::cli {

namespace {

std::string size_text(uint64_t v) {
  if (v != 0 && v % (1ull << 30) == 0) return std::to_string(v >> 30) + " GiB";
  if (v != 0 && v % (1ull << 20) == 0) return std::to_string(v >> 20) + " MiB";
  return std::to_string(v) + " bytes";
}

std::string start_line(const RelayConfig& c, uint16_t port, uint16_t health_port) {
  const RelayLimits& l = c.limits;
  std::ostringstream o;
  o << "serving on " << c.listen_host << ":" << port
    << (c.tls ? " (TLS 1.3)" : " (plain HTTP on loopback, behind a TLS proxy)") << "; storage "
    << c.storage << "; health "
    << (c.health ? c.health_host + ":" + std::to_string(health_port) : std::string("off"))
    << "; limits: bundle " << size_text(l.max_bundle_bytes) << ", mailbox "
    << size_text(l.mailbox_quota_bytes) << ", token " << size_text(l.token_daily_bytes)
    << "/day and " << l.token_requests_per_minute << " requests/min, " << l.max_concurrent_uploads
    << " concurrent uploads, " << l.threads << " threads, timeouts " << l.read_timeout_seconds
    << "/" << l.write_timeout_seconds << " s; partial uploads expire after "
    << c.partial_expiry_days << " days; retention "
    << (c.retention_days ? std::to_string(c.retention_days) + " days" : std::string("off"));
  return o.str();
}

int serve(const std::string& config_path) {
  auto config = load_relay_config(config_path);
  if (!config) return fail(config.error());
  // Block the stop signals before any thread starts, so every thread inherits the mask and
  // only sigwait below receives them (no work in a signal handler).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A client that disconnects mid-response must cost an EPIPE, not the process.
  signal(SIGPIPE, SIG_IGN);

  SystemClock clock;
  auto store = EmbeddedRelayStore::open(config->storage, clock.today());
  if (!store) return fail(store.error());
  auto server = RelayServer::create(*config, **store, clock);
  if (!server) return fail(server.error());
  if (Status s = (*server)->start(); !s) return fail(s.error());
  std::cerr << "satchel-relay: " << start_line(*config, (*server)->port(), (*server)->health_port())
            << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  (*server)->stop();
  server->reset();
  store->reset();
  std::cerr << "satchel-relay: stopped" << std::endl;
  return kExitOk;
}

}  // namespace

void add_serve_command(CLI::App& app, Action& action) {
  auto config = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("serve", "Serve the relay until SIGTERM or SIGINT");
  cmd->add_option("--config", *config, "the relay's configuration file")->required();
  cmd->callback([&action, config] { action = [config] { return serve(*config); }; });
}

}  // namespace satchel::relay::cli
