// libFuzzer target for the relay's configuration file (server/src/config/relay_config.cpp): any
// text is parsed or refused with kInvalidArgument and a message naming the configuration; what
// parses renders (render_relay_config) to a file that parses back to the same configuration, and
// renders again to the same text.
#include <string>

#include "fuzz_common.h"
#include "satchel/relay/relay_config.h"

namespace {

using namespace satchel;
using namespace satchel::relay;

// Relative paths resolve against this; rendered paths are then absolute and stay as they are.
constexpr const char* kBaseDir = "/srv/relay";

bool same_limits(const RelayLimits& a, const RelayLimits& b) {
  return a.max_bundle_bytes == b.max_bundle_bytes &&
         a.mailbox_quota_bytes == b.mailbox_quota_bytes &&
         a.token_daily_bytes == b.token_daily_bytes &&
         a.token_requests_per_minute == b.token_requests_per_minute &&
         a.anonymous_requests_per_minute == b.anonymous_requests_per_minute &&
         a.max_concurrent_uploads == b.max_concurrent_uploads &&
         a.max_document_bytes == b.max_document_bytes &&
         a.max_documents_per_mailbox == b.max_documents_per_mailbox &&
         a.mailbox_document_bytes == b.mailbox_document_bytes && a.threads == b.threads &&
         a.read_timeout_seconds == b.read_timeout_seconds &&
         a.write_timeout_seconds == b.write_timeout_seconds &&
         a.keep_alive_seconds == b.keep_alive_seconds &&
         a.min_body_bytes_per_second == b.min_body_bytes_per_second;
}

// Every field: RelayConfig has no operator==, and the health address is compared even when
// the listener is off (the parser leaves the default then, so it must still match).
bool same_config(const RelayConfig& a, const RelayConfig& b) {
  return a.listen_host == b.listen_host && a.listen_port == b.listen_port && a.tls == b.tls &&
         a.certificate == b.certificate && a.private_key == b.private_key &&
         a.challenge_pin == b.challenge_pin && a.storage == b.storage && a.health == b.health &&
         a.health_host == b.health_host && a.health_port == b.health_port &&
         a.partial_expiry_days == b.partial_expiry_days && a.tombstone_days == b.tombstone_days &&
         a.retention_days == b.retention_days &&
         a.enrollment_code_hours == b.enrollment_code_hours && same_limits(a.limits, b.limits);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = parse_relay_config(text, kBaseDir);
  if (!config) {
    SATCHEL_FUZZ_CHECK(config.code() == Errc::kInvalidArgument,
                       "a configuration refused with another code");
    SATCHEL_FUZZ_CHECK(config.error().message.rfind("configuration", 0) == 0,
                       "a refusal that does not name the configuration");
    return 0;
  }
  SATCHEL_FUZZ_CHECK(!config->storage.empty(), "a configuration without storage");
  SATCHEL_FUZZ_CHECK(config->tls || is_loopback_host(config->listen_host),
                     "plain HTTP accepted on a non-loopback address");
  SATCHEL_FUZZ_CHECK(!config->health || is_loopback_host(config->health_host),
                     "a health listener accepted on a non-loopback address");

  const std::string rendered = render_relay_config(*config);
  auto again = parse_relay_config(rendered, kBaseDir);
  if (!again) fuzz::fail(("a rendered configuration is refused: " + again.error().message).c_str());
  SATCHEL_FUZZ_CHECK(same_config(*config, *again),
                     "a rendered configuration parses back to another configuration");
  SATCHEL_FUZZ_CHECK(render_relay_config(*again) == rendered,
                     "a configuration renders differently the second time");
  return 0;
}
