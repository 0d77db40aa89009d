// Reading and writing the relay's configuration file.
#include "satchel/relay/relay_config.h"

#include <arpa/inet.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "satchel/relay/request_headers.h"

namespace satchel::relay {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// "123", "64K", "256M", "20G" (binary multiples).
std::optional<uint64_t> parse_size(std::string_view v) {
  uint64_t mult = 1;
  if (!v.empty()) {
    switch (v.back()) {
      case 'K':
        mult = 1ull << 10;
        break;
      case 'M':
        mult = 1ull << 20;
        break;
      case 'G':
        mult = 1ull << 30;
        break;
      case 'T':
        mult = 1ull << 40;
        break;
      default:
        break;
    }
    if (mult != 1) v.remove_suffix(1);
  }
  auto n = parse_decimal(v);
  if (!n || *n > UINT64_MAX / mult) return std::nullopt;
  return *n * mult;
}

bool parse_host_port(std::string_view v, std::string& host, uint16_t& port) {
  const size_t colon = v.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view h = v.substr(0, colon);
  if (h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  // A host name or address literal (IPv6 with an optional %zone): nothing that would render
  // as another address ("[]", "[[a]]", "[ a]") or not at all.
  if (h.empty() || h.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789.-_:%") != std::string_view::npos)
    return false;
  auto p = parse_decimal(v.substr(colon + 1));
  if (!p || *p > 65535) return false;
  host = std::string(h);
  port = static_cast<uint16_t>(*p);
  return true;
}

std::string host_port(const std::string& host, uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::string size_text(uint64_t v) {
  if (v != 0 && v % (1ull << 30) == 0) return std::to_string(v >> 30) + "G";
  if (v != 0 && v % (1ull << 20) == 0) return std::to_string(v >> 20) + "M";
  if (v != 0 && v % (1ull << 10) == 0) return std::to_string(v >> 10) + "K";
  return std::to_string(v);
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  const std::string h(host);
  in_addr a4{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

Result<RelayConfig> parse_relay_config(std::string_view text, const std::string& base_dir) {
  RelayConfig c;
  c.certificate.clear();
  c.private_key.clear();
  auto path_of = [&](std::string_view v) {
    std::filesystem::path p{std::string(v)};
    return p.is_absolute() ? p.string() : (std::filesystem::path(base_dir) / p).string();
  };
  using Setter = std::function<bool(std::string_view)>;
  auto u32 = [](uint32_t& field) {
    return Setter([&field](std::string_view v) {
      auto n = parse_decimal(v);
      if (!n || *n > UINT32_MAX) return false;
      field = static_cast<uint32_t>(*n);
      return true;
    });
  };
  auto bytes = [](uint64_t& field) {
    return Setter([&field](std::string_view v) {
      auto n = parse_size(v);
      if (!n) return false;
      field = *n;
      return true;
    });
  };
  std::map<std::string, Setter, std::less<>> setters = {
      {"listen",
       [&](std::string_view v) { return parse_host_port(v, c.listen_host, c.listen_port); }},
      {"tls",
       [&](std::string_view v) {
         if (v != "on" && v != "off") return false;
         c.tls = v == "on";
         return true;
       }},
      {"certificate",
       [&](std::string_view v) {
         c.certificate = path_of(v);
         return !v.empty();
       }},
      {"private_key",
       [&](std::string_view v) {
         c.private_key = path_of(v);
         return !v.empty();
       }},
      {"challenge_pin",
       [&](std::string_view v) {
         auto b = from_hex(v);
         if (v.size() != 64 || !b || b->size() != 32) return false;
         Hash32 h{};
         std::copy(b->begin(), b->end(), h.begin());
         c.challenge_pin = h;
         return true;
       }},
      {"storage",
       [&](std::string_view v) {
         c.storage = path_of(v);
         return !v.empty();
       }},
      {"health",
       [&](std::string_view v) {
         c.health = v != "off";
         return !c.health || parse_host_port(v, c.health_host, c.health_port);
       }},
      {"partial_expiry_days", u32(c.partial_expiry_days)},
      {"tombstone_days", u32(c.tombstone_days)},
      {"retention_days", u32(c.retention_days)},
      {"enrollment_code_hours", u32(c.enrollment_code_hours)},
      {"max_bundle_bytes", bytes(c.limits.max_bundle_bytes)},
      {"mailbox_quota_bytes", bytes(c.limits.mailbox_quota_bytes)},
      {"token_daily_bytes", bytes(c.limits.token_daily_bytes)},
      {"token_requests_per_minute", u32(c.limits.token_requests_per_minute)},
      {"anonymous_requests_per_minute", u32(c.limits.anonymous_requests_per_minute)},
      {"max_concurrent_uploads", u32(c.limits.max_concurrent_uploads)},
      {"max_document_bytes", bytes(c.limits.max_document_bytes)},
      {"max_documents_per_mailbox", u32(c.limits.max_documents_per_mailbox)},
      {"mailbox_document_bytes", bytes(c.limits.mailbox_document_bytes)},
      {"threads", u32(c.limits.threads)},
      {"read_timeout_seconds", u32(c.limits.read_timeout_seconds)},
      {"write_timeout_seconds", u32(c.limits.write_timeout_seconds)},
      {"keep_alive_seconds", u32(c.limits.keep_alive_seconds)},
      {"min_body_bytes_per_second", bytes(c.limits.min_body_bytes_per_second)},
      {"body_grace_seconds", u32(c.limits.body_grace_seconds)},
      {"request_head_seconds", u32(c.limits.request_head_seconds)},
  };
  std::map<std::string, int, std::less<>> seen;
  size_t line_no = 0;
  std::istringstream in{std::string(text)};
  for (std::string raw; std::getline(in, raw);) {
    line_no++;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    const size_t eq = line.find('=');
    auto bad = [&](const std::string& why) {
      return make_error(Errc::kInvalidArgument,
                        "configuration line " + std::to_string(line_no) + ": " + why);
    };
    if (eq == std::string_view::npos) return bad("expected key = value");
    const std::string_view key = trim(line.substr(0, eq));
    const std::string_view value = trim(line.substr(eq + 1));
    auto it = setters.find(key);
    if (it == setters.end()) return bad("unknown key \"" + std::string(key) + "\"");
    if (seen[std::string(key)]++) {
      std::string why = "\"";
      why += key;
      why += "\" given twice";
      return bad(why);
    }
    if (!it->second(value)) return bad("bad value for \"" + std::string(key) + "\"");
  }
  auto refuse = [](const std::string& why) { return make_error(Errc::kInvalidArgument, why); };
  if (c.storage.empty()) return refuse("configuration: storage is required");
  if (c.tls && (c.certificate.empty() || c.private_key.empty()))
    return refuse("configuration: certificate and private_key are required with tls = on");
  if (!c.tls && !is_loopback_host(c.listen_host))
    return refuse("configuration: tls = off is allowed only on a loopback listen address");
  if (!c.tls && !c.challenge_pin)
    return refuse("configuration: tls = off needs challenge_pin (the public certificate's pin)");
  if (c.health && !is_loopback_host(c.health_host))
    return refuse("configuration: the health listener must be on a loopback address");
  if (c.retention_days != 0 && c.retention_days < 7)
    return refuse("configuration: retention_days is 0 (off) or at least 7");
  if (c.partial_expiry_days < 1) return refuse("configuration: partial_expiry_days is at least 1");
  if (c.tombstone_days < 1) return refuse("configuration: tombstone_days is at least 1");
  if (c.enrollment_code_hours < 1 || c.enrollment_code_hours > 72)
    return refuse("configuration: enrollment_code_hours is 1 to 72");
  if (c.limits.threads < 4) return refuse("configuration: threads is at least 4");
  if (c.limits.max_bundle_bytes == 0)
    return refuse("configuration: max_bundle_bytes is at least 1");
  if (c.limits.read_timeout_seconds == 0 || c.limits.write_timeout_seconds == 0)
    return refuse("configuration: timeouts are at least 1 second");
  if (c.limits.request_head_seconds == 0)
    return refuse("configuration: request_head_seconds is at least 1");
  return c;
}

Result<RelayConfig> load_relay_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::kNotFound, "cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > 1 << 20) return make_error(Errc::kInvalidArgument, path + " is too large");
  const std::string dir = std::filesystem::absolute(path).parent_path().string();
  auto c = parse_relay_config(ss.str(), dir);
  if (!c) return make_error(c.error().code, path + ": " + c.error().message);
  return c;
}

std::string render_relay_config(const RelayConfig& c) {
  const RelayLimits& l = c.limits;
  std::ostringstream o;
  o << "# satchel-relay configuration. Lines are \"key = value\"; \"#\" starts a comment.\n"
       "# Relative paths are relative to this file. Sizes take K, M, G (binary) suffixes.\n"
       "\n"
       "# Address and port of the HTTPS listener. For an onion service or a closed network, the\n"
       "# relay speaks TLS 1.3 itself. Behind a TLS-terminating proxy, listen on loopback, set\n"
       "# tls = off and challenge_pin to the SPKI SHA-256 of the proxy's public certificate.\n"
    << "listen = " << host_port(c.listen_host, c.listen_port) << "\n"
    << "tls = " << (c.tls ? "on" : "off") << "\n";
  // With tls = off there may be no certificate: an empty value would not parse back.
  if (!c.certificate.empty())
    o << "certificate = " << c.certificate << "\n";
  else
    o << "# certificate = <PEM file>   (required with tls = on)\n";
  if (!c.private_key.empty())
    o << "private_key = " << c.private_key << "\n";
  else
    o << "# private_key = <PEM file, mode 0600>   (required with tls = on)\n";
  if (c.challenge_pin)
    o << "challenge_pin = " << to_hex(*c.challenge_pin) << "\n";
  else
    o << "# challenge_pin = <64 hex digits>   (default: the pin of `certificate`)\n";
  o << "\n# Uploads and metadata (mode 0700). Keep it on a disk that honours fsync.\n"
    << "storage = " << c.storage << "\n"
    << "\n# Plain-HTTP health check (GET /health), loopback only; \"off\" disables it.\n"
    << "health = " << (c.health ? host_port(c.health_host, c.health_port) : std::string("off"))
    << "\n"
    << "\n# Days are UTC days. Partial uploads not written to for this many days are removed.\n"
    << "partial_expiry_days = " << c.partial_expiry_days << "\n"
    << "# A delivered bundle's hash is kept this long, so a late re-upload is answered\n"
       "# \"delivered\" instead of being stored again.\n"
    << "tombstone_days = " << c.tombstone_days << "\n"
    << "# Unacknowledged bundles are kept until acknowledged (0). A retention of 7 days or more\n"
       "# deletes them after that many days; coordinators see warnings 7 days before.\n"
    << "retention_days = " << c.retention_days << "\n"
    << "# Validity of enrollment codes minted by `satchel-relay mailbox code` (1..72 hours).\n"
    << "enrollment_code_hours = " << c.enrollment_code_hours << "\n"
    << "\n# Limits.\n"
    << "max_bundle_bytes = " << size_text(l.max_bundle_bytes) << "\n"
    << "mailbox_quota_bytes = " << size_text(l.mailbox_quota_bytes) << "\n"
    << "token_daily_bytes = " << size_text(l.token_daily_bytes) << "\n"
    << "token_requests_per_minute = " << l.token_requests_per_minute << "\n"
    << "anonymous_requests_per_minute = " << l.anonymous_requests_per_minute << "\n"
    << "max_concurrent_uploads = " << l.max_concurrent_uploads << "\n"
    << "max_document_bytes = " << size_text(l.max_document_bytes) << "\n"
    << "# Published documents per mailbox (0: unlimited): how many, and their bytes together.\n"
    << "max_documents_per_mailbox = " << l.max_documents_per_mailbox << "\n"
    << "mailbox_document_bytes = " << size_text(l.mailbox_document_bytes) << "\n"
    << "threads = " << l.threads << "\n"
    << "read_timeout_seconds = " << l.read_timeout_seconds << "\n"
    << "write_timeout_seconds = " << l.write_timeout_seconds << "\n"
    << "keep_alive_seconds = " << l.keep_alive_seconds << "\n"
    << "min_body_bytes_per_second = " << size_text(l.min_body_bytes_per_second) << "\n"
    << "body_grace_seconds = " << l.body_grace_seconds << "\n"
    << "request_head_seconds = " << l.request_head_seconds << "\n";
  return o.str();
}

}  // namespace satchel::relay
