// `satchel join` as a library function: every step is recorded before the next starts, and the
// relay code, which works once, is redeemed only when no earlier run with the same invite did.
#include "satchel/client/join.h"

#include <sodium.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include "satchel/client/published_updates.h"
#include "satchel/client/queue_content.h"
#include "satchel/client/trust_store.h"
#include "satchel/crypto/published_document.h"
#include "satchel/crypto/sha256.h"

namespace satchel::client {
namespace {

// Written by `satchel enroll` too (client/src/cli/cli_sync.cpp).
constexpr const char* kRelayUrlSetting = "relay.url";
constexpr const char* kTokenSetting = "relay.token";
constexpr const char* kTokenIdSetting = "relay.token_id";

std::string_view text_of(const SecretBytes& s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

// Lower-case hex of a secret, in secret memory.
SecretBytes secret_hex(const SecretBytes& bytes) {
  SecretBytes z(bytes.size() * 2 + 1);
  sodium_bin2hex(reinterpret_cast<char*>(z.data()), z.size(), bytes.data(), bytes.size());
  SecretBytes out(bytes.size() * 2);
  std::memcpy(out.data(), z.data(), out.size());
  return out;
}

// A setting, nullopt when unset or empty.
Result<std::optional<std::string>> nonempty_setting(Profile& profile, const char* name) {
  auto v = profile.setting(name);
  if (!v) return v.error();
  if (*v && (*v)->empty()) return std::optional<std::string>();
  return std::move(v.value());
}

// Moves the stored token into secret memory, wiping the std::string it came in.
Result<SecretBytes> stored_token(Profile& profile) {
  auto v = profile.setting(kTokenSetting);
  if (!v) return v.error();
  if (!*v || (*v)->empty())
    return make_error(Errc::kNotFound, "the relay token of an earlier join is missing");
  SecretBytes out((*v)->size());
  std::memcpy(out.data(), (*v)->data(), (*v)->size());
  sodium_memzero((*v)->data(), (*v)->size());
  return out;
}

Status report_step(const JoinOptions& options, JoinStep step) {
  return options.on_step ? options.on_step(step) : Status::Ok();
}

std::string form_name(const std::string& id, uint64_t version) {
  return id + " version " + std::to_string(version);
}

// Whether the profile holds exactly the content the invite names for this form.
bool holds_invite_form(TrustStore& trust, const InviteForm& f) {
  auto held = trust.form(f.form_id, f.version);
  return held && Sha256::digest(as_bytes(held->source_text)) == f.content_hash;
}

// The roster held, even if expired (it still counts against rollback); 0 when none.
Result<uint64_t> held_roster_version(TrustStore& trust) {
  auto held = trust.roster(INT64_MIN);
  if (!held) return held.error();
  return *held ? (*held)->version : 0;
}

// Step 1: the organisation key and the invite's roster (unless one as new is held).
Status trust_invite(Profile& profile, const ConfirmedInvite& invite, int64_t now) {
  TrustStore trust(profile);
  auto tx = Transaction::begin(profile.db());
  if (!tx) return tx.error();
  SATCHEL_TRY(trust.trust_organisation(invite.base().org));
  auto held = held_roster_version(trust);
  if (!held) return held.error();
  if (*held < invite.roster().version) {
    auto added = trust.add_roster(invite.base().roster_text, now);
    if (!added) return added.error();
  }
  SATCHEL_TRY(profile.set_setting(kJoinInviteSetting, to_hex(invite.id())));
  return tx->commit();
}

// Step 2: redeems the code and stores what it gave, with the publication key, all at once.
Result<Enrollment> redeem(Profile& profile, RelayClient& relay, const ConfirmedInvite& invite) {
  auto enrolled = relay.enroll(invite.mint().relay_code);
  if (!enrolled) {
    if (enrolled.code() != Errc::kRelayUnauthorized) return enrolled.error();
    return make_error(Errc::kRelayUnauthorized,
                      "the relay refused the invite's code. A relay answers every bad code "
                      "alike, so the code is unknown to it, already used or expired: ask your "
                      "coordinator for a new invite");
  }
  const SecretBytes key_hex = secret_hex(invite.base().publication_key);
  auto tx = Transaction::begin(profile.db());
  Status s = tx ? Status::Ok() : Status(tx.error());
  if (s) s = profile.set_setting(kTokenSetting, text_of(enrolled->token));
  if (s) s = profile.set_setting(kTokenIdSetting, enrolled->token_id);
  if (s) s = profile.set_setting(kRelayUrlSetting, invite.relay().url);
  if (s) s = profile.set_setting(kPublicationKeySetting, text_of(key_hex));
  if (s) s = tx->commit();
  if (!s)
    return make_error(s.error().code,
                      "the relay code was redeemed but its token could not be stored (" +
                          s.error().message + "): ask your coordinator for a new invite");
  return enrolled;
}

// The invite's forms only, and only with the content hash the invite names.
FormFilter invite_forms(const ConfirmedInvite& invite) {
  return [&invite](const FormEnvelope& env) -> std::optional<std::string> {
    for (const InviteForm& f : invite.base().forms) {
      if (f.form_id != env.form_id) continue;
      // A newer version, signed by the organisation since the invite was made, is kept too.
      if (env.form_version > f.version) return std::nullopt;
      if (env.form_version < f.version) return std::string();  // older: the invite's replaces it
      if (env.content_hash != f.content_hash)
        return std::string("refused: a form whose hash differs from the invite's");
      return std::nullopt;
    }
    return std::string();  // a form this invite does not ask for
  };
}

// Step 4: the hello, stored (to be re-sent to coordinators added later) and queued together.
Status queue_hello(Profile& profile, const DeviceHello& hello, int64_t now) {
  const Bytes bytes = hello.encode();
  auto tx = Transaction::begin(profile.db());
  if (!tx) return tx.error();
  SATCHEL_TRY(profile.set_setting(kHelloSetting, to_hex(bytes)));
  auto queued = queue_content(profile, ContentType::kDeviceHello, bytes, now);
  if (!queued) return queued.error();
  SATCHEL_TRY(record_hello_recipients(profile, now));
  return tx->commit();
}

Error after_redeem(const Error& e) {
  return make_error(e.code, e.message +
                                " (this device's relay token is kept: run `satchel join` again "
                                "with the same invite to finish)");
}

}  // namespace

Status check_device_label(const ConfirmedInvite& invite, std::string_view label) {
  auto hello = make_device_hello(invite, DeviceSecretKey::generate().public_key(), label);
  return hello ? Status::Ok() : Status(hello.error());
}

Status check_join_allowed(Profile& profile, const ConfirmedInvite& invite) {
  SATCHEL_TRY(profile.require_kind(ProfileKind::kField));
  auto org = TrustStore(profile).organisation();
  if (!org) return org.error();
  if (*org && !(**org == invite.base().org))
    return make_error(Errc::kAlreadyExists,
                      "this profile already trusts another organisation (fingerprint " +
                          (*org)->fingerprint() +
                          "), not the invite's: a profile belongs to one organisation; join with "
                          "another profile (--home DIR)");
  auto token = nonempty_setting(profile, kTokenSetting);
  if (!token) return token.error();
  if (*token) sodium_memzero((*token)->data(), (*token)->size());
  if (!*token) return Status::Ok();
  auto joined = nonempty_setting(profile, kJoinInviteSetting);
  if (!joined) return joined.error();
  if (*joined && **joined == to_hex(invite.id())) return Status::Ok();  // a resumed join
  auto url = nonempty_setting(profile, kRelayUrlSetting);
  if (!url) return url.error();
  return make_error(Errc::kAlreadyExists,
                    "this device is already enrolled with " + (*url ? **url : "a relay") +
                        " by another invite or code: `satchel join` is for a new device");
}

Result<JoinReport> join_with_invite(Profile& profile, const ConfirmedInvite& invite,
                                    std::string_view label, const JoinOptions& options) {
  // Everything that can be refused without the relay is refused before anything is written.
  SATCHEL_TRY(check_join_allowed(profile, invite));
  auto device = profile.device_key();
  if (!device) return device.error();
  auto hello = make_device_hello(invite, device->public_key(), label);
  if (!hello) return hello.error();
  auto url = parse_relay_url(invite.relay().url);
  if (!url) return url.error();
  auto relay = RelayClient::create(*url, {invite.relay().spki_pin, invite.relay().backup_pin},
                                   options.relay);
  if (!relay) return relay.error();
  auto held_token = nonempty_setting(profile, kTokenSetting);
  if (!held_token) return held_token.error();
  if (*held_token) sodium_memzero((*held_token)->data(), (*held_token)->size());

  JoinReport report;
  report.resumed = held_token->has_value();
  report.relay_url = invite.relay().url;
  report.device_fingerprint = device->public_key().fingerprint();

  SATCHEL_TRY(trust_invite(profile, invite, options.now));
  SATCHEL_TRY(report_step(options, JoinStep::kTrusted));

  SecretBytes token;
  if (report.resumed) {
    auto t = stored_token(profile);
    if (!t) return t.error();
    token = std::move(t.value());
    auto id = nonempty_setting(profile, kTokenIdSetting);
    if (!id) return id.error();
    report.token_id = id->value_or("");
  } else {
    auto enrolled = redeem(profile, **relay, invite);
    if (!enrolled) return enrolled.error();
    token = std::move(enrolled->token);
    report.token_id = enrolled->token_id;
  }
  if (report.token_id != to_hex(invite.mint().token_id))
    report.problems.push_back("the relay gave token id " + report.token_id +
                              " but the invite names " + to_hex(invite.mint().token_id) +
                              ": tell your coordinator");
  if (Status s = report_step(options, JoinStep::kRedeemed); !s) return after_redeem(s.error());

  auto updates = fetch_published_updates(profile, **relay, token, invite.base().publication_key,
                                         options.now, invite_forms(invite));
  if (!updates) return after_redeem(updates.error());
  report.forms_added = std::move(updates->forms_added);
  for (std::string& p : updates->problems) report.problems.push_back(std::move(p));
  TrustStore trust(profile);
  for (const InviteForm& f : invite.base().forms)
    if (!holds_invite_form(trust, f))
      report.forms_missing.push_back(form_name(f.form_id, f.version));
  if (Status s = report_step(options, JoinStep::kDocumentsFetched); !s)
    return after_redeem(s.error());

  auto queued = nonempty_setting(profile, kHelloSetting);
  if (!queued) return after_redeem(queued.error());
  if (!*queued) {
    if (Status s = queue_hello(profile, *hello, options.now); !s) return after_redeem(s.error());
    report.hello_queued = true;
  }
  if (Status s = report_step(options, JoinStep::kHelloQueued); !s) return after_redeem(s.error());
  auto version = held_roster_version(trust);
  if (!version) return version.error();
  report.roster_version = *version;
  return report;
}

Result<JoinReport> join_with_invite_text(Profile& profile, ByteView invite_text,
                                         std::string_view typed_fingerprint, std::string_view label,
                                         const JoinOptions& options) {
  auto parsed = UnconfirmedInvite::parse(invite_text);
  if (!parsed) return parsed.error();
  auto confirmed = std::move(parsed.value()).confirm(typed_fingerprint, options.now);
  if (!confirmed) return confirmed.error();
  return join_with_invite(profile, *confirmed, label, options);
}

}  // namespace satchel::client
