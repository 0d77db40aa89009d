// Fetching what the organisation published: rosters and forms probed by number
// (schema/trust-documents.md, "Published documents"), and the device hello re-sent when the
// roster gains a coordinator.
#include "satchel/client/published_updates.h"

#include <sodium.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <set>

#include "satchel/client/join.h"
#include "satchel/client/queue_content.h"
#include "satchel/client/trust_store.h"
#include "satchel/crypto/encoding.h"
#include "satchel/crypto/published_document.h"

namespace satchel::client {
namespace {

// Which coordinators the stored hello was sealed to: their X25519 keys in hex, comma-separated.
constexpr const char* kHelloSentToSetting = "join.hello_sent_to";

std::string_view text_of(const SecretBytes& s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

std::string form_name(const std::string& id, uint64_t version) {
  return id + " version " + std::to_string(version);
}

// The roster held, even if expired (it still counts against rollback); 0 when none.
Result<uint64_t> held_roster_version(TrustStore& trust) {
  auto held = trust.roster(INT64_MIN);
  if (!held) return held.error();
  return *held ? (*held)->version : 0;
}

// Asks for one published document and opens it. Ok(nullopt): no document of that name;
// Ok(text): opened; problem set (and Ok(nullopt)): present but not readable.
Result<std::optional<SecretBytes>> probe(RelayClient& relay, const SecretBytes& token,
                                         const SecretBytes& key, PublishedKind kind,
                                         uint64_t number, bool& present, std::string& problem) {
  present = false;
  auto doc = relay.document(published_document_name(key, kind, number), token);
  if (!doc) return doc.error();
  if (!*doc) return std::optional<SecretBytes>();
  present = true;
  auto text = open_published_document(key, kind, number, **doc);
  if (!text) {
    problem = text.error().message;
    return std::optional<SecretBytes>();
  }
  return std::optional<SecretBytes>(std::move(text.value()));
}

Status fetch_rosters(Profile& profile, RelayClient& relay, const SecretBytes& token,
                     const SecretBytes& key, int64_t now, UpdateReport& report) {
  TrustStore trust(profile);
  auto org = trust.organisation();
  if (!org) return org.error();
  if (!*org) return make_error(Errc::kNotFound, "no organisation is trusted yet");
  auto held = held_roster_version(trust);
  if (!held) return held.error();
  report.roster_before = *held;
  // After the roster held, or after the highest number seen if higher: a run that stopped at
  // the cap goes on from there, and a document refused once is not fetched again.
  auto seen = profile.setting(kRosterNumberSetting);
  if (!seen) return seen.error();
  uint64_t from = *held;
  if (*seen && !(*seen)->empty())
    from = std::max<uint64_t>(from, std::strtoull((*seen)->c_str(), nullptr, 10));
  uint64_t highest = from;
  int misses = 0;
  uint64_t asked = 0;
  // Absent numbers count towards the gap limit; a present but bad document does not (a
  // coordinator holding the publication key could otherwise hide a newer roster behind a few
  // bad ones), so the probes are also capped per run.
  for (uint64_t n = from + 1; misses < kPublishedGapLimit && asked < kMaxPublishedProbes; ++n) {
    ++asked;
    bool present = false;
    std::string problem;
    auto text = probe(relay, token, key, PublishedKind::kRoster, n, present, problem);
    if (!text) return text.error();
    if (!present) {
      ++misses;
      continue;
    }
    misses = 0;
    highest = n;
    const std::string where = "published roster " + std::to_string(n);
    if (!*text) {
      report.problems.push_back(where + " skipped: " + problem);
      continue;
    }
    auto roster = Roster::verify(text_of(**text), **org, now);
    if (!roster) {
      report.problems.push_back(where + " refused: " + roster.error().message);
      continue;
    }
    if (roster->version != n) {
      report.problems.push_back(where + " refused: it holds roster version " +
                                std::to_string(roster->version) + ", not " + std::to_string(n));
      continue;
    }
    auto added = trust.add_roster(text_of(**text), now);
    if (!added) report.problems.push_back(where + " refused: " + added.error().message);
  }
  report.probes += asked;
  if (asked >= kMaxPublishedProbes && misses < kPublishedGapLimit)
    report.problems.push_back("published rosters: stopped after " + std::to_string(asked) +
                              " documents; the rest is asked for on the next run");
  if (highest > from)
    SATCHEL_TRY(profile.set_setting(kRosterNumberSetting, std::to_string(highest)));
  auto after = held_roster_version(trust);
  if (!after) return after.error();
  report.roster_after = *after;
  return Status::Ok();
}

// The highest version of a form held, or nullopt.
Result<std::optional<uint64_t>> held_form_version(TrustStore& trust, const std::string& id) {
  auto held = trust.form(id);
  if (!held) {
    if (held.code() == Errc::kNotFound) return std::optional<uint64_t>();
    return held.error();
  }
  return std::optional<uint64_t>(held->version);
}

Status fetch_forms(Profile& profile, RelayClient& relay, const SecretBytes& token,
                   const SecretBytes& key, const FormFilter& keep_form, UpdateReport& report) {
  TrustStore trust(profile);
  auto org = trust.organisation();
  if (!org) return org.error();
  if (!*org) return make_error(Errc::kNotFound, "no organisation is trusted yet");
  auto seen = profile.setting(kFormNumberSetting);
  if (!seen) return seen.error();
  uint64_t from = 0;
  if (*seen && !(*seen)->empty()) from = std::strtoull((*seen)->c_str(), nullptr, 10);
  uint64_t highest = from;
  int misses = 0;
  uint64_t asked = 0;
  for (uint64_t n = from + 1; misses < kPublishedGapLimit && asked < kMaxPublishedProbes; ++n) {
    ++asked;
    bool present = false;
    std::string problem;
    auto text = probe(relay, token, key, PublishedKind::kForm, n, present, problem);
    if (!text) return text.error();
    if (!present) {
      ++misses;
      continue;
    }
    misses = 0;
    highest = n;
    const std::string where = "published form " + std::to_string(n);
    if (!*text) {
      report.problems.push_back(where + " skipped: " + problem);
      continue;
    }
    auto pkg = FormEnvelope::verify_package(text_of(**text), **org);
    if (!pkg) {
      report.problems.push_back(where + " refused: " + pkg.error().message);
      continue;
    }
    const FormEnvelope& env = pkg->first;
    const std::string name = form_name(env.form_id, env.form_version);
    if (keep_form) {
      const std::optional<std::string> reason = keep_form(env);
      if (reason) {
        if (!reason->empty()) report.problems.push_back(where + " (" + name + ") " + *reason);
        continue;
      }
    }
    auto held = held_form_version(trust, env.form_id);
    if (!held) return held.error();
    if (*held && **held == env.form_version) continue;  // held already (published again)
    if (*held && **held > env.form_version) {
      report.problems.push_back(where + " (" + name + ") refused: older than the held version " +
                                std::to_string(**held));
      continue;
    }
    auto added = trust.add_form(text_of(**text), where);
    if (added)
      report.forms_added.push_back(form_name(added->id, added->version));
    else
      report.problems.push_back(where + " refused: " + added.error().message);
  }
  report.probes += asked;
  if (asked >= kMaxPublishedProbes && misses < kPublishedGapLimit)
    report.problems.push_back("published forms: stopped after " + std::to_string(asked) +
                              " documents; the rest is asked for on the next run");
  if (highest > from) SATCHEL_TRY(profile.set_setting(kFormNumberSetting, std::to_string(highest)));
  return Status::Ok();
}

std::string recipients_of(const Roster& roster) {
  std::vector<std::string> keys;
  for (const RosterCoordinator& c : roster.coordinators)
    keys.push_back(to_hex(ByteView(c.key.x25519.data(), c.key.x25519.size())));
  std::sort(keys.begin(), keys.end());
  std::string out;
  for (const std::string& k : keys) out += (out.empty() ? "" : ",") + k;
  return out;
}

std::set<std::string> split_keys(const std::string& list) {
  std::set<std::string> out;
  size_t at = 0;
  while (at < list.size()) {
    size_t comma = list.find(',', at);
    if (comma == std::string::npos) comma = list.size();
    if (comma > at) out.insert(list.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

}  // namespace

Result<std::optional<SecretBytes>> stored_publication_key(Profile& profile) {
  auto v = profile.setting(kPublicationKeySetting);
  if (!v) return v.error();
  if (!*v || (*v)->empty()) return std::optional<SecretBytes>();
  SecretBytes key(32);
  size_t len = 0;
  const int rc =
      sodium_hex2bin(key.data(), key.size(), (*v)->data(), (*v)->size(), nullptr, &len, nullptr);
  sodium_memzero((*v)->data(), (*v)->size());
  if (rc != 0 || len != key.size())
    return make_error(Errc::kIoError,
                      "the stored publication key is damaged (relay.publication_key)");
  return std::optional<SecretBytes>(std::move(key));
}

Result<UpdateReport> fetch_published_updates(Profile& profile, RelayClient& relay,
                                             const SecretBytes& token, const SecretBytes& key,
                                             int64_t now, const FormFilter& keep_form) {
  UpdateReport report;
  SATCHEL_TRY(fetch_rosters(profile, relay, token, key, now, report));
  SATCHEL_TRY(fetch_forms(profile, relay, token, key, keep_form, report));
  return report;
}

Status record_hello_recipients(Profile& profile, int64_t now) {
  auto roster = TrustStore(profile).roster(now);
  if (!roster) return roster.error();
  if (!*roster) return make_error(Errc::kNotFound, "no roster is held");
  return profile.set_setting(kHelloSentToSetting, recipients_of(**roster));
}

Result<bool> resend_hello_to_new_coordinators(Profile& profile, int64_t now) {
  auto hello = profile.setting(kHelloSetting);
  if (!hello) return hello.error();
  if (!*hello || (*hello)->empty()) return false;
  auto roster = TrustStore(profile).roster(now);
  if (!roster && roster.code() == Errc::kDocExpired)
    return false;  // nothing can be sealed until a newer roster arrives
  if (!roster) return roster.error();
  if (!*roster) return false;
  auto sent = profile.setting(kHelloSentToSetting);
  if (!sent) return sent.error();
  const std::set<std::string> had = split_keys(sent->value_or(""));
  bool missing = false;
  for (const std::string& k : split_keys(recipients_of(**roster)))
    if (!had.count(k)) missing = true;
  if (!missing) return false;
  auto bytes = from_hex(**hello);
  if (!bytes) return make_error(Errc::kIoError, "the stored device hello is damaged (join.hello)");
  // Sealed to the whole roster: a coordinator that had it already files it as "joined already".
  auto tx = Transaction::begin(profile.db());
  if (!tx) return tx.error();
  auto queued = queue_content(profile, ContentType::kDeviceHello, *bytes, now);
  if (!queued) return queued.error();
  SATCHEL_TRY(profile.set_setting(kHelloSentToSetting, recipients_of(**roster)));
  SATCHEL_TRY(tx->commit());
  return true;
}

}  // namespace satchel::client
