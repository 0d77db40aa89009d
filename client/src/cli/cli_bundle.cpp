// `satchel bundle seal|open`: the low-level bundle commands (tests, benchmarks, debugging).
#include <ctime>
#include <iostream>
#include <optional>

#include <sodium.h>

#include "cli/cli.h"
#include "satchel/crypto/bundle.h"

namespace satchel::cli {
namespace {

struct SealArgs {
  std::vector<std::string> to;
  std::string from, in, out, content_type = "record";
  uint16_t slots = 0;
  std::optional<uint64_t> sequence;
};

struct OpenArgs {
  std::string key, in, out, expect_sender;
};

const std::map<std::string, ContentType> kContentTypes = {
    {"record", ContentType::kRecord},     {"attachment", ContentType::kAttachment},
    {"hello", ContentType::kDeviceHello}, {"retraction", ContentType::kRetraction},
    {"cover", ContentType::kCover},
};

std::string content_type_name(ContentType t) {
  for (auto& [name, v] : kContentTypes)
    if (v == t) return name;
  return "unknown";
}

int seal(const SealArgs& a) {
  auto key_text = read_secret_key_file(a.from);
  if (!key_text) return fail(key_text.error());
  auto sender = DeviceSecretKey::from_text(key_text->span());
  if (!sender) return fail(sender.error());
  SealRequest req;
  req.sender = &sender.value();
  for (size_t i = 0; i < a.to.size(); i++) {
    auto k = CoordinatorPublicKey::from_text(a.to[i]);
    if (!k) return fail("--to #" + std::to_string(i + 1), k.error());
    req.recipients.push_back(k->x25519);
  }
  req.slot_count = a.slots;
  auto in = FileSource::open(a.in);
  if (!in) return fail(in.error());
  req.metadata.body_length = in->size();
  req.metadata.content_type = kContentTypes.at(a.content_type);
  req.metadata.created_at = static_cast<int64_t>(std::time(nullptr));
  req.metadata.sequence = a.sequence ? *a.sequence : randombytes_random();
  // The bundle appears at OUT only complete and synced; a failed seal leaves nothing there.
  auto out = StagedFileSink::create(a.out);
  if (!out) return fail(out.error());
  auto info = seal_bundle(std::move(req), *in, *out);
  if (!info) return fail(info.error());
  Status s = out->commit();
  if (!s) return fail(s.error());
  std::cout << "bundle id: " << to_hex(info->bundle_id) << "\nsize: " << info->size << " bytes\n";
  return kExitOk;
}

int open(const OpenArgs& a) {
  auto key_text = read_secret_key_file(a.key);
  if (!key_text) return fail(key_text.error());
  auto key = CoordinatorSecretKey::from_text(key_text->span());
  if (!key) return fail(key.error());
  std::optional<DevicePublicKey> expect;
  if (!a.expect_sender.empty()) {
    auto e = DevicePublicKey::from_text(a.expect_sender);
    if (!e) return fail("--expect-sender", e.error());
    expect = *e;
  }
  auto in = FileSource::open(a.in);
  if (!in) return fail(in.error());
  // The body is decrypted into a private temporary beside OUT while the bundle is verified, and
  // appears at OUT only once every check has passed (never over an existing file).
  auto out = StagedFileSink::create(a.out);
  if (!out) return fail(out.error());
  auto opened = open_bundle(*in, key->x25519(), expect, *out);
  if (!opened) {
    const Error& e = opened.error();
    if (e.code == Errc::kIoError || e.code == Errc::kAlreadyExists) return fail(e);
    std::cerr << "satchel: bundle rejected: " << e.message << " [" << errc_name(e.code) << "]\n";
    return kExitFailed;
  }
  const BundleMetadata& m = opened->metadata;
  std::cout << "sender: " << opened->sender.to_text()
            << (expect ? " (verified: matches --expect-sender)"
                       : " (UNVERIFIED: the bundle is authentic for this device key, but who holds "
                         "it is unknown; pass --expect-sender)")
            << "\nsender fingerprint: " << opened->sender.fingerprint()
            << "\nsequence: " << m.sequence << "\nbundle id: " << to_hex(m.bundle_id)
            << "\ncreated: " << format_utc(m.created_at, "%Y-%m-%dT%H:%M:%SZ")
            << "\ncontent type: " << content_type_name(m.content_type)
            << "\nbody: " << m.body_length << " bytes\n";
  if (!m.form_id.empty()) std::cout << "form: " << m.form_id << " v" << m.form_version << "\n";
  return kExitOk;
}

}  // namespace

void add_bundle_command(CLI::App& app, Action& action) {
  auto* bundle =
      app.add_subcommand("bundle", "Seal or open a bundle directly (testing and debugging)");
  bundle->require_subcommand(1);

  auto sa = std::make_shared<SealArgs>();
  auto* s = bundle->add_subcommand("seal", "Seal IN into the bundle OUT for coordinators");
  s->add_option("--to", sa->to, "coordinator public key (coordpub-…); repeat per recipient")
      ->required();
  s->add_option("--from", sa->from, "device secret key file (the sender)")->required();
  s->add_option("--slots", sa->slots, "recipient slots N (default: number of --to)")
      ->check(CLI::Range(1, 64));
  s->add_option("--sequence", sa->sequence, "sequence number (default: random)");
  s->add_option("--content-type", sa->content_type,
                "record | attachment | hello | retraction | cover")
      ->check(CLI::IsMember({"record", "attachment", "hello", "retraction", "cover"}));
  s->add_option("IN", sa->in, "file to seal")->required();
  s->add_option("OUT", sa->out, "bundle to create (never overwritten)")->required();
  s->callback([&action, sa] { action = [sa] { return seal(*sa); }; });

  auto oa = std::make_shared<OpenArgs>();
  auto* o = bundle->add_subcommand("open", "Verify the bundle IN and decrypt it to OUT");
  o->add_option("--key", oa->key, "coordinator secret key file")->required();
  o->add_option("--expect-sender", oa->expect_sender,
                "device public key (devpub-…) the bundle must come from");
  o->add_option("IN", oa->in, "bundle to open")->required();
  o->add_option("OUT", oa->out,
                "file to create with the body (appears only after verification; never overwritten)")
      ->required();
  o->callback([&action, oa] { action = [oa] { return open(*oa); }; });
}

}  // namespace satchel::cli
