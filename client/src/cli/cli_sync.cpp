// `satchel enroll`, `satchel sync [--watch]` and `satchel settings`: the device's link to its
// organisation's relay. The relay's address and pins come from the signed roster; the upload
// token lives only inside the encrypted profile.
#include <sodium.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <csignal>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>
#include <thread>

#include "cli/cli.h"
#include "cli/cli_session.h"
#include "satchel/client/outbox.h"
#include "satchel/client/passphrase.h"
#include "satchel/client/published_updates.h"
#include "satchel/client/relay_client.h"
#include "satchel/client/sync.h"
#include "satchel/client/trust_store.h"

namespace satchel::cli {
namespace {

// Settings a user may change with `satchel settings set`.
constexpr const char* kProxySetting = "sync.proxy";
constexpr const char* kKeepSetting = "sync.keep_until_delivered";
// Written by `satchel enroll`.
constexpr const char* kRelayUrlSetting = "relay.url";
constexpr const char* kTokenSetting = "relay.token";
constexpr const char* kTokenIdSetting = "relay.token_id";

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) {
  g_stop.store(true);
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // the flag is checked between requests and while waiting; a request in
                    // flight finishes or times out first (cpp-httplib retries after EINTR)
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// The relay this device enrolled with, as the roster held describes it. An expired roster still
// names the relay to ask for a newer one (and only that: sync_once uploads nothing then).
struct RelayLink {
  RosterRelay relay;
  client::RelayUrl url;
  client::RelayClientOptions options;
};

Result<RelayLink> relay_from_roster(client::Profile& profile, const std::string& url) {
  client::TrustStore trust(profile);
  auto roster = trust.roster(INT64_MIN);
  if (!roster) return roster.error();
  if (!*roster)
    return make_error(Errc::kNotFound,
                      "no roster is trusted yet: add one with `satchel trust org` and "
                      "`satchel roster add`");
  if ((*roster)->relays.empty()) return make_error(Errc::kNotFound, "the roster names no relay");
  RelayLink link;
  bool found = false;
  for (const RosterRelay& r : (*roster)->relays) {
    if (url.empty() || r.url == url) {
      link.relay = r;
      found = true;
      break;
    }
  }
  if (!found)
    return make_error(Errc::kNotFound,
                      "the relay this device enrolled with is no longer in the roster: enroll "
                      "again with a new code (`satchel enroll --again`)");
  auto parsed = client::parse_relay_url(link.relay.url);
  if (!parsed) return parsed.error();
  link.url = *parsed;
  auto proxy = profile.setting(kProxySetting);
  if (!proxy) return proxy.error();
  if (*proxy && !(*proxy)->empty()) {
    auto p = client::parse_proxy_address(**proxy);
    if (!p) return p.error();
    link.options.proxy = *p;
  }
  return link;
}

Result<std::unique_ptr<client::RelayClient>> client_for(const RelayLink& link) {
  return client::RelayClient::create(link.url, {link.relay.spki_pin, link.relay.backup_pin},
                                     link.options);
}

// Moves a secret setting into secret memory, wiping the std::string it came in.
Result<SecretBytes> secret_setting(client::Profile& profile, const char* name) {
  auto v = profile.setting(name);
  if (!v) return v.error();
  if (!*v || (*v)->empty())
    return make_error(Errc::kNotFound,
                      "this device is not enrolled with a relay: run `satchel enroll` with the "
                      "enrollment code from your coordinator");
  SecretBytes out((*v)->size());
  std::memcpy(out.data(), (*v)->data(), (*v)->size());
  sodium_memzero((*v)->data(), (*v)->size());
  return out;
}

int enroll(int code_fd, size_t relay_index, bool again) {
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  auto held = profile->setting(kRelayUrlSetting);
  if (!held) return fail(held.error());
  if (*held && !(*held)->empty() && !again)
    return fail("this device is already enrolled with " + **held +
                "; `satchel enroll --again` replaces that enrollment");
  client::TrustStore trust(*profile);
  auto roster = trust.roster(static_cast<int64_t>(std::time(nullptr)));
  if (!roster) return fail(roster.error());
  if (!*roster || (*roster)->relays.empty())
    return fail("no trusted roster names a relay: add the organisation's roster first");
  if (relay_index >= (*roster)->relays.size())
    return fail("the roster names " + std::to_string((*roster)->relays.size()) +
                " relay(s); --relay counts from 0");
  auto link = relay_from_roster(*profile, (*roster)->relays[relay_index].url);
  if (!link) return fail(link.error());

  // The code comes from --code-fd or the terminal, never from the passphrase's descriptor.
  client::PassphraseSource src;
  if (code_fd >= 0) src.fd = code_fd;
  auto code = client::read_passphrase(src, "Enrollment code: ");
  if (!code) return fail(code.error());

  auto relay = client_for(*link);
  if (!relay) return fail(relay.error());
  auto enrolled = (*relay)->enroll(*code);
  if (!enrolled) return fail(enrolled.error());
  const std::string_view token(reinterpret_cast<const char*>(enrolled->token.data()),
                               enrolled->token.size());
  // The token, its id and the relay that issued it are written together or not at all.
  auto tx = client::Transaction::begin(profile->db());
  Status s = tx ? Status::Ok() : Status(tx.error());
  if (s) s = profile->set_setting(kTokenSetting, token);
  if (s) s = profile->set_setting(kTokenIdSetting, enrolled->token_id);
  if (s) s = profile->set_setting(kRelayUrlSetting, link->relay.url);
  if (s) s = tx->commit();
  if (!s) return fail(s.error());
  std::cout << "enrolled with " << link->relay.url << " (token id " << enrolled->token_id << ")\n";
  return kExitOk;
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

void draw_bar(const client::SyncProgress& p) {
  constexpr int kWidth = 30;
  const double frac =
      p.bytes_total ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 1.0;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), ' ');
  std::cerr << "\r[" << bar << "] bundle " << p.bundle << "/" << p.bundles << "  "
            << mib(p.bytes_done) << " of " << mib(p.bytes_total) << "   " << std::flush;
}

// Newer rosters and forms published on the relay, then the hello for coordinators added since
// the device joined. Refused documents are reported; an error ends the run.
Status fetch_updates(client::Profile& profile, client::RelayClient& relay, const SecretBytes& token,
                     int64_t now) {
  auto key = client::stored_publication_key(profile);
  if (!key) return key.error();
  if (!*key) return Status::Ok();  // enrolled by code alone: updates come by `satchel roster add`
  auto updates = client::fetch_published_updates(profile, relay, token, **key, now);
  if (!updates) return updates.error();
  for (const std::string& p : updates->problems) std::cerr << "satchel: " << p << "\n";
  if (updates->roster_after != updates->roster_before)
    std::cout << "roster: version " << updates->roster_after << " (was " << updates->roster_before
              << "): new bundles are sealed to its coordinators\n";
  for (const std::string& f : updates->forms_added) std::cout << "form added: " << f << "\n";
  auto resent = client::resend_hello_to_new_coordinators(profile, now);
  if (!resent) return resent.error();
  if (*resent) std::cout << "device hello queued again for coordinators added since joining\n";
  return Status::Ok();
}

struct SyncArgs {
  bool watch = false;
  bool skip_exported = false;
  double interval = 600;  // mean seconds between runs with --watch
};

// One pass over the outbox. Returns false on an error that ends the run (printed).
bool sync_once(client::Profile& profile, const SyncArgs& args, bool& fatal) {
  auto stop = [&fatal](const Error& e) {
    fail(e);
    fatal = true;
    return false;
  };
  fatal = false;
  auto url = profile.setting(kRelayUrlSetting);
  if (!url) return stop(url.error());
  auto token = secret_setting(profile, kTokenSetting);
  if (!token) return stop(token.error());
  if (!*url || (*url)->empty())
    return stop(make_error(Errc::kNotFound,
                           "this device is not enrolled with a relay: run "
                           "`satchel enroll` with the code from your coordinator"));
  auto link = relay_from_roster(profile, **url);
  if (!link) return stop(link.error());
  auto relay = client_for(*link);
  if (!relay) return stop(relay.error());
  auto keep = profile.setting(kKeepSetting);
  if (!keep) return stop(keep.error());

  client::SyncOptions options;
  options.delete_when_stored = !(*keep && **keep == "yes");
  options.include_exported = !args.skip_exported;
  options.cancelled = [] { return g_stop.load(); };
  options.sleep = [](std::chrono::milliseconds d) {  // a wait that a stop signal cuts short
    const auto until = std::chrono::steady_clock::now() + d;
    while (!g_stop.load() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  };
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  if (tty) options.progress = draw_bar;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (Status s = fetch_updates(profile, **relay, *token, now); !s) {
    const bool ends_run = s.error().code == Errc::kRelayPinMismatch ||
                          s.error().code == Errc::kRelayUnauthorized ||
                          s.error().code == Errc::kIoError;
    if (ends_run) {
      fail(s.error());
      fatal = true;
      return false;
    }
    // Updates are asked for again next run; the outbox goes now (a rate limit, a cut).
    std::cerr << "satchel: published updates not fetched: " << s.error().message << "\n";
  }
  // An expired roster named the relay to ask for a newer one, and nothing more: its pins may
  // belong to a key copied since, so nothing is uploaded (and deleted) on their word.
  if (auto current = client::TrustStore(profile).roster(now); !current) {
    fail(current.error().code == Errc::kDocExpired
             ? make_error(Errc::kDocExpired,
                          "the roster has expired and the relay offers no newer one: nothing is "
                          "uploaded until a newer roster arrives (ask your coordinator)")
             : current.error());
    return false;
  }
  client::Outbox outbox(profile);
  auto report = client::sync_outbox(outbox, **relay, *token, options);
  if (tty) std::cerr << "\n";
  if (!report) {
    fail(report.error());
    fatal = report.error().code == Errc::kRelayPinMismatch ||
            report.error().code == Errc::kRelayUnauthorized;
    return false;
  }
  for (const std::string& p : report->problems) std::cerr << "satchel: pending " << p << "\n";
  std::cout << "sync: " << report->stored << " stored, " << report->deleted
            << " deleted from this device, " << report->pending << " pending; "
            << report->bytes_sent << " bytes sent for " << report->bundle_bytes << " bundle bytes"
            << std::endl;  // flushed: --watch writes one line per round
  return report->pending == 0;
}

int sync(const SyncArgs& args) {
  auto src = client::PassphraseSource::resolve(profile_options().passphrase_fd);
  if (!src) return fail(src.error());
  auto pass = client::read_passphrase(*src, "Passphrase: ");
  if (!pass) return fail(pass.error());
  auto opened = client::Profile::open(profile_home(), *pass);
  if (!opened) return fail(opened.error());
  if (Status k = opened->require_kind(client::ProfileKind::kField); !k) return fail(k.error());
  install_stop_handlers();
  if (!args.watch) {
    bool fatal = false;
    return sync_once(*opened, args, fatal) ? kExitOk : kExitFailed;
  }
  // Between rounds the profile is closed, so that other commands can use it (one process at a
  // time); the passphrase stays in locked memory to open it again for the next round.
  std::optional<client::Profile> profile(std::move(opened.value()));
  while (!g_stop.load()) {
    if (!profile) {
      auto again = client::Profile::open(profile_home(), *pass);
      if (again)
        profile.emplace(std::move(again.value()));
      else
        std::cerr << "satchel: this round skipped: " << again.error().message << std::endl;
    }
    if (profile) {
      bool fatal = false;
      sync_once(*profile, args, fatal);
      if (fatal) return kExitFailed;
      profile.reset();
    }
    // Random intervals, uniform in [interval/2, 3*interval/2]: no fixed beat on the network.
    const double wait = args.interval * (0.5 + randombytes_uniform(1000001) / 1e6);
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait);
    while (!g_stop.load() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cout << "sync: stopped\n";
  return kExitOk;
}

int settings_show() {
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  for (const char* name : {kRelayUrlSetting, kTokenIdSetting, kProxySetting, kKeepSetting}) {
    auto v = profile->setting(name);
    if (!v) return fail(v.error());
    std::cout << name << " = " << (*v && !(*v)->empty() ? **v : std::string("(unset)")) << "\n";
  }
  return kExitOk;
}

int settings_set(const std::string& name, const std::string& value) {
  if (name == "proxy") {
    if (!value.empty() && value != "off") {
      auto p = client::parse_proxy_address(value);
      if (!p) return fail(p.error());
    }
  } else if (name == "keep-until-delivered") {
    if (value != "yes" && value != "no") return fail("keep-until-delivered takes yes or no");
  } else {
    return fail("unknown setting '" + name + "': the settings are proxy and keep-until-delivered");
  }
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  Status s = name == "proxy" ? profile->set_setting(kProxySetting, value == "off" ? "" : value)
                             : profile->set_setting(kKeepSetting, value);
  if (!s) return fail(s.error());
  std::cout << name << " set\n";
  return kExitOk;
}

}  // namespace

void add_sync_commands(CLI::App& app, Action& action) {
  struct EnrollArgs {
    int code_fd = -1;
    size_t relay = 0;
    bool again = false;
  };
  auto ea = std::make_shared<EnrollArgs>();
  auto* en = app.add_subcommand(
      "enroll", "Redeem an enrollment code from a coordinator for this device's relay token");
  en->add_option("--code-fd", ea->code_fd, "read the code from this descriptor, not the terminal");
  en->add_option("--relay", ea->relay, "which relay of the roster (from 0)");
  en->add_flag("--again", ea->again, "replace an existing enrollment");
  en->callback(
      [&action, ea] { action = [ea] { return enroll(ea->code_fd, ea->relay, ea->again); }; });

  auto sa = std::make_shared<SyncArgs>();
  auto* sy = app.add_subcommand("sync", "Upload the outbox to the relay (resumes, then deletes)");
  sy->add_flag("--watch", sa->watch, "keep running, syncing at random intervals");
  sy->add_option("--interval", sa->interval, "mean seconds between runs with --watch")
      ->check(CLI::Range(1.0, 86400.0));
  sy->add_flag("--skip-exported", sa->skip_exported, "leave bundles already exported to a folder");
  sy->callback([&action, sa] { action = [sa] { return sync(*sa); }; });

  auto* st = app.add_subcommand("settings", "Show or change this device's sync settings");
  auto name = std::make_shared<std::string>();
  auto value = std::make_shared<std::string>();
  auto* set = st->add_subcommand("set", "proxy HOST:PORT|off, keep-until-delivered yes|no");
  set->add_option("NAME", *name)->required();
  set->add_option("VALUE", *value)->required();
  set->callback(
      [&action, name, value] { action = [name, value] { return settings_set(*name, *value); }; });
  st->callback([&action, st] {
    if (!st->got_subcommand("set")) action = [] { return settings_show(); };
  });
}

}  // namespace satchel::cli
