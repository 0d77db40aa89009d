#include "satchel/client/finalize.h"

#include <sodium.h>

#include "satchel/client/record_package.h"
#include "satchel/client/record_store.h"
#include "satchel/client/retraction.h"
#include "satchel/client/trust_store.h"
#include "satchel/crypto/sha256.h"
#include "satchel/form/validate.h"

namespace satchel::client {

std::string describe_issues(const std::vector<form::AnswerIssue>& issues) {
  std::string out;
  for (const auto& i : issues)
    out += "  " + (i.path.empty() ? std::string("answers") : "question '" + i.path + "'") + ": " +
           form::rule_name(i.rule) + ": " + i.message + "\n";
  if (!out.empty()) out.pop_back();
  return out;
}

SealRequest roster_seal_request(const Roster& roster, const DeviceSecretKey& device,
                                uint64_t sequence, int64_t now, ContentType type) {
  SealRequest req;
  req.sender = &device;
  for (const auto& c : roster.coordinators) req.recipients.push_back(c.key.x25519);
  req.slot_count = roster.slot_count;
  req.metadata.sequence = sequence;
  req.metadata.created_at = now;
  req.metadata.org_id = roster.org_id();
  req.metadata.roster_version = roster.version;
  req.metadata.content_type = type;
  return req;
}

Result<FinalizedRecord> finalize_record(Profile& profile, const std::string& record_id,
                                        int64_t now) {
  RecordStore records(profile);
  TrustStore trust(profile);
  auto info = records.info(record_id);
  if (!info) return info.error();
  auto answers = records.answers(record_id);
  if (!answers) return answers.error();
  auto form = trust.form(info->form_id, info->form_version);
  if (!form) return form.error();
  auto attachments = records.attachments(record_id);
  if (!attachments) return attachments.error();

  auto issues = form::validate_answers(*form, *answers, form::ValidationMode::kFinal);
  // Every attachment id an answer names must be an attachment of this draft.
  for (const auto& q : form->questions) {
    if (q.type != form::QuestionType::kAttachment || !answers->contains(q.id)) continue;
    for (const auto& id : (*answers)[q.id]) {
      bool found = false;
      for (const auto& a : *attachments)
        found |= id.is_string() && a.attachment_id == id.get<std::string>();
      if (!found)
        issues.push_back({q.id, form::Rule::kType, "names an attachment this draft does not have"});
    }
  }
  if (!issues.empty())
    return make_error(Errc::kInvalidArgument,
                      "draft " + record_id + " cannot be finalized:\n" + describe_issues(issues));

  auto roster = trust.roster(now);
  if (!roster) return roster.error();
  if (!*roster)
    return make_error(Errc::kNotFound,
                      "no roster: the device does not know its coordinators yet "
                      "(satchel roster add FILE)");
  auto device = profile.device_key();
  if (!device) return device.error();

  nlohmann::json manifest;
  // A fresh id for the coordinators: the draft's local id, which old copies of its rows keep
  // on this device, is never sent, so those copies do not name a record a coordinator holds.
  {
    Bytes fresh(16);
    randombytes_buf(fresh.data(), fresh.size());
    manifest["record_id"] = to_hex(fresh);
  }
  manifest["form"] = {{"id", form->id},
                      {"version", form->version},
                      {"sha256", to_hex(Sha256::digest(as_bytes(form->source_text)))}};
  // Only the hash of the retraction secret travels; the secret is shown once as a code.
  SecretBytes retraction_secret(kRetractionSecretBytes);
  randombytes_buf(retraction_secret.data(), retraction_secret.size());
  {
    const Hash32 h = retraction_hash(retraction_secret.span());
    manifest["retraction"] = to_hex(ByteView(h.data(), h.size()));
  }
  manifest["created_at"] = info->created_at;
  manifest["finalized_at"] = now;
  manifest["answers"] = *answers;
  manifest["attachments"] = nlohmann::json::array();
  for (const auto& a : *attachments)
    manifest["attachments"].push_back({{"id", a.attachment_id},
                                       {"question", a.question},
                                       {"name", a.name},
                                       {"media_type", a.media_type},
                                       {"size", a.size}});
  auto body = RecordPackageSource::open(records, record_id, manifest, *attachments);
  if (!body) return body.error();
  // A record travels as one bundle, and relays accept bundles up to kMaxBundleBytes
  // (schema/relay-api.md, "Limits"); the margin covers the bundle's header and chunk tags.
  if (body->size() > kMaxBundleBytes - (2u << 20))
    return make_error(Errc::kInvalidArgument,
                      "draft " + record_id + " is " + std::to_string(body->size() >> 20) +
                          " MiB with its attachments; a record can travel as at most " +
                          std::to_string(kMaxBundleBytes >> 20) +
                          " MiB: move some attachments to another record");

  auto tx = Transaction::begin(profile.db());
  if (!tx) return tx.error();
  auto seq = profile.take_sequence();
  if (!seq) return seq.error();
  SealRequest req = roster_seal_request(**roster, *device, *seq, now, ContentType::kRecord);
  req.metadata.form_id = form->id;
  req.metadata.form_version = form->version;
  req.metadata.form_hash = Sha256::digest(as_bytes(form->source_text));
  req.metadata.body_length = body->size();
  auto writer = OutboxWriter::begin(profile);
  if (!writer) return writer.error();
  // Until the commit below, the entry's key names nothing committed: destroy it on any failure.
  auto sealed_entry = [&]() -> Result<std::pair<OutboxEntry, BundleId>> {
    auto sealed = seal_bundle(std::move(req), *body, *writer);
    if (!sealed) return sealed.error();
    auto entry = writer->finish(*seq);
    if (!entry) return entry.error();
    return std::make_pair(std::move(entry.value()), sealed->bundle_id);
  }();
  std::optional<uint32_t> draft_slot;
  Status s = sealed_entry ? Status::Ok() : Status(sealed_entry.error());
  if (s) {
    auto deleted = records.delete_rows(record_id);
    if (deleted)
      draft_slot = *deleted;
    else
      s = deleted.error();
  }
  if (s) s = tx->commit();
  if (!s) {
    (void)profile.keyring().destroy(writer->key_slot());
    return s.error();
  }
  // Committed: the draft's rows are gone, so now its key. Every copy SQLite left of the draft
  // (WAL frames, freed pages, free blocks) is unreadable from here on.
  if (draft_slot) SATCHEL_TRY(profile.keyring().destroy(*draft_slot));
  return FinalizedRecord{std::move(sealed_entry->first), sealed_entry->second,
                         retraction_code_text(retraction_secret)};
}

}  // namespace satchel::client
