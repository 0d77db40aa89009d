// Finalize: validate a draft, seal it with its attachments into one bundle for the roster's
// coordinators, queue it in the outbox, delete the draft and then overwrite its key in the
// keyring, so no copy SQLite left of it is readable (schema/client-database.md, "Finalize").
#pragma once

#include <string>

#include "satchel/client/outbox.h"
#include "satchel/client/profile.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/trust_documents.h"
#include "satchel/form/validate.h"

namespace satchel::client {

// The largest bundle relays accept by default (schema/relay-api.md, "Limits"): a record with its
// attachments must fit in one.
inline constexpr uint64_t kMaxBundleBytes = 2ull << 30;

struct FinalizedRecord {
  OutboxEntry entry;
  BundleId bundle_id{};
  // The record's retraction code (client/retraction.h), to show once and not keep; empty for
  // a retraction itself.
  SecretBytes retraction_code;
};

// A SealRequest from `device` for the roster's coordinators and slot count, carrying the
// device's next `sequence`, `now` and the roster's organisation and version; the caller sets
// the content type, form fields and body length. Used by finalize and retraction.
SealRequest roster_seal_request(const Roster& roster, const DeviceSecretKey& device,
                                uint64_t sequence, int64_t now, ContentType type);

// One line per issue: "  question 'household[1].age': min: must be at least 0".
std::string describe_issues(const std::vector<form::AnswerIssue>& issues);

// Fails without changing anything if the draft does not validate (the error lists every
// failing question), if it is too large for one bundle, if no valid roster is held, or on any
// storage error.
Result<FinalizedRecord> finalize_record(Profile& profile, const std::string& record_id,
                                        int64_t now);

}  // namespace satchel::client
