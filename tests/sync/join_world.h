// TEST ONLY. The organisation of client_fixture.h with its mailbox on a real relay (in this
// process, TLS) and coordinator A in a session there: it publishes documents under the
// publication key and mints invites, for the join and published-update tests.
#pragma once

#include <catch2/catch_test_macros.hpp>

#include <sodium.h>

#include <cctype>
#include <string>

#include "client/client_fixture.h"
#include "relay_harness.h"
#include "satchel/client/join.h"
#include "satchel/client/outbox.h"
#include "satchel/crypto/published_document.h"
#include "satchel/crypto/sha256.h"
#include "satchel/relay/tls_identity.h"

namespace satchel::testing {

using namespace satchel::client;

using satchel::relay::testing::TestOrganisation;
using satchel::relay::testing::TestRelay;

inline CoordinatorSecretKey clone(const CoordinatorSecretKey& k) {
  return CoordinatorSecretKey::from_text(k.to_text().span()).value();
}

inline Hash32 pin_of(const TestRelay& relay) {
  auto pin = relay::certificate_pin(relay.cert_path);
  REQUIRE(pin);
  return *pin;
}

inline std::string url_of(const TestRelay& relay) {
  return "https://127.0.0.1:" + std::to_string(relay.port());
}

inline SecretBytes random_secret(size_t n) {
  SecretBytes s(n);
  randombytes_buf(s.data(), s.size());
  return s;
}

struct JoinWorld {
  TestRelay relay;
  TestProfile org{"join-org"};  // its keys; its profile is not used
  std::string mailbox;
  SecretBytes publication_key = random_secret(32);
  std::unique_ptr<RelayClient> coordinator;
  SecretBytes session;
  int64_t now = 0;

  JoinWorld() {
    TestOrganisation registered(0);
    registered.org = OrgSecretKey::from_text(org.org.to_text().span()).value();
    registered.coordinators.push_back(clone(org.coord_a));
    registered.coordinators.push_back(clone(org.coord_b));
    mailbox = relay.add_mailbox(registered);
    now = relay.clock.now();
    auto url = parse_relay_url(url_of(relay));
    REQUIRE(url);
    auto c = RelayClient::create(*url, {pin_of(relay)}, RelayClientOptions{});
    REQUIRE(c);
    coordinator = std::move(c.value());
    auto s = coordinator->open_session(org.coord_a, mailbox, now);
    if (!s) FAIL(s.error().message);
    session = std::move(s.value());
  }

  // Roster `version` naming this relay, with coordinators A and B unless others are given.
  std::string roster(uint64_t version, std::vector<RosterCoordinator> coordinators = {}) {
    Roster r = org.roster(version);
    if (!coordinators.empty()) r.coordinators = std::move(coordinators);
    Hash32 backup{};
    backup.fill(2);  // the operator's backup key, never seen here
    r.relays = {{url_of(relay), pin_of(relay), backup}};
    return r.sign(org.org).value();
  }

  std::string form_package(std::string_view content, uint64_t version = 1) {
    return FormEnvelope::sign_package(org.org, "intake", version, as_bytes(content), now).value();
  }

  void publish(PublishedKind kind, uint64_t number, std::string_view text) {
    auto sealed = seal_published_document(publication_key, kind, number, as_bytes(text));
    REQUIRE(sealed);
    Status s = coordinator->publish_document(
        session, published_document_name(publication_key, kind, number), *sealed);
    if (!s) FAIL(s.error().message);
  }

  // An invite minted by coordinator A from a base with roster 1, naming form intake v1 by the
  // hash of the test form, valid `valid_for` seconds.
  SecretBytes invite(int64_t valid_for = 86400) {
    InviteBase base;
    base.org = org.org.public_key();
    base.roster_text = roster(1);
    base.enrollment_secret = random_secret(32);
    base.publication_key = publication_key.clone();
    base.forms = {{"intake", 1, Sha256::digest(as_bytes(std::string_view(kTestForm)))}};
    base.issued_at = now - 60;
    base.expires_at = now + valid_for;
    auto text = base.sign(org.org);
    REQUIRE(text);
    auto verified = SignedInviteBase::verify(text->span(), org.org.public_key(), now);
    REQUIRE(verified);
    auto code = coordinator->mint_enrollment_code(session, 1);
    if (!code) FAIL(code.error().message);
    auto id = from_hex(code->code_id);
    REQUIRE(id);
    REQUIRE(id->size() == 8);
    TokenId token_id{};
    std::copy(id->begin(), id->end(), token_id.begin());
    auto minted =
        mint_invite(*verified, code->code, code->expires_at, 0, token_id, now, org.coord_a);
    REQUIRE(minted);
    return std::move(minted->text);
  }

  std::string fingerprint() const { return org.org.public_key().fingerprint(); }

  JoinOptions options() const {
    JoinOptions o;
    o.now = now;
    return o;
  }
};

// Everything a join could change: every setting, the forms and the outbox.
inline std::string state_of(Profile& p) {
  std::string out;
  for (const char* sql : {"SELECT name || '=' || hex(value) FROM settings ORDER BY name",
                          "SELECT form_id || ' ' || version FROM forms ORDER BY form_id, version",
                          "SELECT 'outbox ' || outbox_id FROM outbox ORDER BY outbox_id"}) {
    auto st = p.db().prepare(sql);
    REQUIRE(st);
    while (st->step().value()) out += st->text(0) + "\n";
  }
  return out;
}

inline std::optional<std::string> setting(Profile& p, const char* name) {
  return p.setting(name).value();
}

inline bool mentions(const std::vector<std::string>& lines, std::string_view what) {
  for (const auto& l : lines)
    if (l.find(what) != std::string::npos) return true;
  return false;
}

}  // namespace satchel::testing
