// The relay's configuration file: "key = value" lines, "#" comments. `satchel-relay init`
// writes a commented one; `serve` and the mailbox commands read it. Relative paths are relative
// to the file's directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "satchel/crypto/bundle.h"
#include "satchel/crypto/status.h"

namespace satchel::relay {

struct RelayLimits {
  uint64_t max_bundle_bytes = 2ull << 30;         // largest upload accepted (a long video)
  uint64_t mailbox_quota_bytes = 20ull << 30;     // partial plus stored bytes per mailbox
  uint64_t token_daily_bytes = 4ull << 30;        // upload bytes per token per UTC day
  uint32_t token_requests_per_minute = 600;       // per upload token or coordinator session
  uint32_t anonymous_requests_per_minute = 600;   // enroll/challenge/session, all clients together
  uint32_t max_concurrent_uploads = 64;           // request bodies of uploads received at once
  uint64_t max_document_bytes = 8ull << 20;       // a published document
  uint32_t max_documents_per_mailbox = 4096;      // published documents held per mailbox
  uint64_t mailbox_document_bytes = 64ull << 20;  // their bytes together, per mailbox
  uint32_t threads = 96;                // worker threads (each serves one connection at a time)
  uint32_t read_timeout_seconds = 20;   // per receive
  uint32_t write_timeout_seconds = 20;  // per send
  uint32_t keep_alive_seconds = 10;
  uint64_t min_body_bytes_per_second = 1024;  // average over every request body, after the grace
  uint32_t body_grace_seconds = 10;           // a body's first seconds, before the rate is checked
  uint32_t request_head_seconds = 10;  // from a request's first byte to the end of its headers
};

struct RelayConfig {
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 8443;
  // Direct TLS 1.3 (onion services, closed networks). Off only on a loopback address, behind a
  // TLS-terminating proxy; challenge_pin must then name the proxy's certificate pin.
  bool tls = true;
  std::string certificate;  // PEM, the chain served
  std::string private_key;  // PEM, mode 0600
  // The SPKI SHA-256 coordinator challenges are bound to; default: the certificate's own.
  std::optional<Hash32> challenge_pin;
  std::string storage;
  bool health = false;  // a plain-HTTP health listener (GET /health), loopback only
  std::string health_host = "127.0.0.1";
  uint16_t health_port = 0;  // 0: any free port (tests)
  uint32_t partial_expiry_days = 7;
  uint32_t tombstone_days = 30;
  uint32_t retention_days = 0;  // 0: unacknowledged bundles are kept until acknowledged
  uint32_t enrollment_code_hours = 24;
  RelayLimits limits;
};

// Parses a configuration text; relative paths are resolved against `base_dir`. Unknown keys,
// malformed values, a non-loopback health address, TLS off on a non-loopback address (or
// without challenge_pin) and a retention under 7 days are refused with the line number.
Result<RelayConfig> parse_relay_config(std::string_view text, const std::string& base_dir);
// Reads and parses the file at `path`.
Result<RelayConfig> load_relay_config(const std::string& path);
// A complete, commented configuration file for `config` (paths written as given).
std::string render_relay_config(const RelayConfig& config);
// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(std::string_view host);

}  // namespace satchel::relay
