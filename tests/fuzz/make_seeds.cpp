// Writes the committed seed corpora (tests/fuzz/seeds/<target>/): valid bundles, documents and
// key strings made with the fixed fuzz keys, plus plans for the structured modes. Deterministic:
// running it again rewrites the same bytes. Usage: fuzz_make_seeds <seeds dir>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "bundle_layout.h"
#include "fuzz_common.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/invite.h"
#include "satchel/crypto/sha256.h"

namespace {

using namespace satchel;
using satchel::fuzz::keys;
namespace fs = std::filesystem;

void write(const fs::path& path, ByteView bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) fuzz::fail("cannot write a seed file");
}
void write(const fs::path& path, std::string_view text) {
  write(path, as_bytes(text));
}
std::string text_of(const SecretBytes& s) {
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}
template <class T>
T must(Result<T> r) {
  if (!r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    fuzz::fail("seed construction failed");
  }
  return std::move(r).value();
}

Bytes seal(const std::vector<Key32>& recipients, uint16_t slots, ContentType type,
           std::string form_id, std::string_view body) {
  SealRequest req;
  req.sender = &keys().device;
  req.recipients = recipients;
  req.slot_count = slots;
  req.metadata.sequence = 1000;
  req.metadata.created_at = fuzz::kNow;
  req.metadata.content_type = type;
  if (!form_id.empty()) {
    req.metadata.form_version = 4;
    req.metadata.form_hash = Sha256::digest(as_bytes(form_id));
  }
  req.metadata.form_id = std::move(form_id);
  req.metadata.body_length = body.size();
  MemorySource src(as_bytes(body));
  MemorySink out;
  (void)must(seal_bundle(std::move(req), src, out));
  return std::move(out.data());
}

void bundle_seeds(const fs::path& dir) {
  const Key32 mine = keys().coordinator.public_key().x25519;
  const Key32 other = keys().other_coordinator.public_key().x25519;
  write(dir / "one-slot.bundle", seal({mine}, 1, ContentType::kRecord, "", "a short testimony"));
  write(dir / "three-slots-form.bundle",
        seal({other, mine}, 3, ContentType::kRecord, "intake-2026",
             R"({"q1":"yes","q2":"a longer answer with some text in it","q3":[1,2,3]})"));
  write(dir / "cover-empty.bundle", seal({mine}, 2, ContentType::kCover, "", ""));

  fuzz::SealPlan plan;
  const std::string_view plan_text = "plan body";
  plan.body.assign(plan_text.begin(), plan_text.end());
  write(dir / "plan-plain", fuzz::encode_seal_plan(plan));
  plan.slots = 3;
  plan.second_recipient = true;
  plan.form_id_len = 12;
  plan.content_type = 2;
  write(dir / "plan-two-recipients-form", fuzz::encode_seal_plan(plan));
  // Bodies around the chunk boundary: 139 bytes of inner header plus the body fill 64 KiB.
  plan = {};
  plan.body = {0x41, 0x42, 0x43};
  plan.body_length = 65536 - 139;
  write(dir / "plan-one-full-chunk", fuzz::encode_seal_plan(plan));
  plan.body_length = 65536 - 139 + 1;
  write(dir / "plan-two-chunks", fuzz::encode_seal_plan(plan));
  plan.body_length = 200000;
  plan.ops = {{fuzz::TamperOp::kXor | 0x80, 40, 0x01}};  // inside the last chunk
  write(dir / "plan-four-chunks-flip-last", fuzz::encode_seal_plan(plan));
  plan = {};
  plan.body = {0x01, 0x02};
  plan.ops = {{fuzz::TamperOp::kXor, 20, 0x80}};  // ephemeral key
  write(dir / "plan-flip-header", fuzz::encode_seal_plan(plan));
  plan.ops = {{fuzz::TamperOp::kTruncate | 0x80, 1, 0}};
  write(dir / "plan-truncate", fuzz::encode_seal_plan(plan));
  plan.ops = {{fuzz::TamperOp::kAppend, 0, 0}};
  write(dir / "plan-trailing-byte", fuzz::encode_seal_plan(plan));
  plan.slots = 2;
  plan.second_recipient = true;
  plan.ops = {{fuzz::TamperOp::kXor | 0x80, 1, 0xff}, {fuzz::TamperOp::kXor | 0x80, 33, 0xff}};
  write(dir / "plan-flip-authenticators", fuzz::encode_seal_plan(plan));
  plan = {};
  plan.expect_other_sender = true;
  write(dir / "plan-unexpected-sender", fuzz::encode_seal_plan(plan));
}

// A forge plan whose plaintext is a real inner header (device key left to the plan) and body.
fuzz::ForgePlan forge(BundleMetadata meta, std::string_view body, uint64_t declared_length) {
  meta.body_length = declared_length;
  const Bytes inner = bundle_v1::encode_inner(meta, keys().device.public_key());
  fuzz::ForgePlan plan;
  plan.plaintext.assign(inner.begin() + 32, inner.end());
  plan.plaintext.insert(plan.plaintext.end(), body.begin(), body.end());
  return plan;
}

void forge_seeds(const fs::path& dir) {
  BundleMetadata meta;
  meta.sequence = 77;
  meta.created_at = fuzz::kNow;
  meta.content_type = ContentType::kRecord;
  const std::string_view body = "forged body";
  auto plan = forge(meta, body, body.size());
  write(dir / "forge-valid", fuzz::encode_forge_plan(plan));
  plan.padded_hint = 70000;
  write(dir / "forge-two-chunks", fuzz::encode_forge_plan(plan));
  plan.tags = 0x40;  // both chunks MESSAGE: the bad last tag is found only while decrypting
  write(dir / "forge-last-not-final", fuzz::encode_forge_plan(plan));
  plan.tags = 0xff;  // every chunk FINAL: refused at chunk 0
  write(dir / "forge-first-final", fuzz::encode_forge_plan(plan));
  plan = forge(meta, body, 3);
  write(dir / "forge-nonzero-padding", fuzz::encode_forge_plan(plan));
  plan = forge(meta, body, 5000);
  write(dir / "forge-body-past-padding", fuzz::encode_forge_plan(plan));
  plan = forge(meta, body, body.size());
  plan.bad_authenticator = true;
  plan.slots = 3;
  write(dir / "forge-bad-authenticator", fuzz::encode_forge_plan(plan));
  meta.form_id = "intake-2026";
  meta.form_version = 4;
  meta.form_hash = Sha256::digest(as_bytes(meta.form_id));
  plan = forge(meta, body, body.size());
  write(dir / "forge-form", fuzz::encode_forge_plan(plan));
  meta.content_type = static_cast<ContentType>(9);
  plan = forge(meta, body, body.size());
  write(dir / "forge-unknown-content-type", fuzz::encode_forge_plan(plan));
}

void document_seeds(const fs::path& dir) {
  const fuzz::FixedKeys& k = keys();
  const OrgPublicKey& org = k.org.public_key();

  Roster roster;
  roster.org = org;
  roster.version = 3;
  roster.issued_at = fuzz::kNow - 86400;
  roster.expires_at = fuzz::kNow + 86400 * 365;
  roster.org_name = "Example Rights Network";
  roster.slot_count = 3;
  roster.coordinators = {{"Amina", k.coordinator.public_key()},
                         {"Bo Ström", k.other_coordinator.public_key()}};
  Hash32 pin{}, backup{};
  pin.fill(0x11);
  backup.fill(0x22);
  roster.relays = {{"https://relay.example.org", pin, backup}};
  const std::string roster_text = must(roster.sign(k.org));

  RelayRegistration reg;
  reg.org = org;
  reg.version = 2;
  reg.issued_at = fuzz::kNow - 3600;
  reg.required_acks = 1;
  reg.coordinator_auth_keys = {k.coordinator.public_key().ed25519,
                               k.other_coordinator.public_key().ed25519};
  const std::string reg_text = must(reg.sign(k.org));

  const std::string_view form_json = R"({"id":"intake-2026","fields":[{"q":"name","t":"text"}]})";
  const std::string form_text =
      must(FormEnvelope::sign_package(k.org, "intake-2026", 4, as_bytes(form_json), fuzz::kNow));

  InviteBase inv;
  inv.org = org;
  inv.roster_text = roster_text;
  inv.enrollment_secret = SecretBytes(32);
  inv.publication_key = SecretBytes(32);
  inv.publication_key.span()[0] = 1;
  inv.forms = {{"intake-2026", 4, Sha256::digest(as_bytes(form_json))}};
  inv.issued_at = fuzz::kNow - 60;
  inv.expires_at = fuzz::kNow + 86400 * 30;
  const std::string base_text = text_of(must(inv.sign(k.org)));
  auto base = must(SignedInviteBase::verify(as_bytes(base_text), org, fuzz::kNow));
  const std::string_view code = "ENRL-7KQ2-M9XD-44TB";
  SecretBytes relay_code(code.size());
  std::copy(code.begin(), code.end(), relay_code.data());
  const std::string invite_text = text_of(must(mint_invite(base, relay_code, fuzz::kNow + 86400, 0,
                                                           TokenId{7}, fuzz::kNow, k.coordinator))
                                              .text);
  write(dir / "invite-base.txt", base_text);
  {
    auto confirmed = must(must(UnconfirmedInvite::parse(as_bytes(invite_text)))
                              .confirm(org.fingerprint(), fuzz::kNow));
    write(dir / "hello.bin",
          must(make_device_hello(confirmed, k.device.public_key(), "seed")).encode());
  }

  const struct {
    const char* name;
    DocType type;
    const std::string& text;
  } docs[] = {
      {"roster", DocType::kRoster, roster_text},
      {"registration", DocType::kRelayRegistration, reg_text},
      {"form", DocType::kFormEnvelope, form_text},
      {"invite", DocType::kInvite, invite_text},
  };
  for (const auto& d : docs) {
    const std::string name = d.name;
    write(dir / (name + ".txt"), d.text);
    write(dir / (name + ".wire"), fuzz::doc_wire_from_text(d.type, d.text));
    const auto plan = fuzz::signed_doc_plan_from_text(d.type, d.text);
    if (fuzz::signed_doc_text(plan) != d.text) fuzz::fail("signed plan does not rebuild its seed");
    write(dir / (name + ".plan"), fuzz::encode_signed_doc_plan(plan));
  }
  write(dir / "roster-with-newline.txt", "  " + roster_text + "\r\n");
}

void key_seeds(const fs::path& dir) {
  const fuzz::FixedKeys& k = keys();
  write(dir / "orgpub", k.org.public_key().to_text());
  write(dir / "coordpub", k.coordinator.public_key().to_text());
  write(dir / "devpub", k.device.public_key().to_text() + "\n");
  write(dir / "orgsec", k.org.to_text().span());
  write(dir / "coordsec", k.coordinator.to_text().span());
  write(dir / "devsec", k.device.to_text().span());
  write(dir / "hex", to_hex(k.org.public_key().ed25519));
  write(dir / "base32", to_base32(k.org.public_key().ed25519));
  write(dir / "base64url", to_base64url(k.org.public_key().ed25519));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <seeds dir>\n", argv[0]);
    return 2;
  }
  fuzz::use_replayable_random();
  const fs::path root = argv[1];
  const struct {
    const char* target;
    void (*make)(const fs::path&);
  } targets[] = {
      {"fuzz_bundle_open", bundle_seeds},
      {"fuzz_bundle_open", forge_seeds},
      {"fuzz_trust_documents", document_seeds},
      {"fuzz_key_text", key_seeds},
  };
  for (const auto& t : targets) {
    fs::create_directories(root / t.target);
    fuzz::restart_random();
    t.make(root / t.target);
  }
  return 0;
}
