// Finalize: validate a draft, seal it with its attachments into one bundle for the roster's
// coordinators, queue it in the outbox, and destroy the draft and its key, leaving no page of
// it in the database file, its freelist or its WAL (schema/record-package.md).
#pragma once

#include <string>

#include "satchel/client/outbox.h"
#include "satchel/client/profile.h"
#include "satchel/crypto/bundle.h"
#include "satchel/form/validate.h"

namespace satchel::client {

struct FinalizedRecord {
  OutboxEntry entry;
  BundleId bundle_id{};
};

// One line per issue: "  question 'household[1].age': min: must be at least 0".
std::string describe_issues(const std::vector<form::AnswerIssue>& issues);

// Fails without changing anything if the draft does not validate (the error lists every
// failing question), if no valid roster is held, or on any storage error.
Result<FinalizedRecord> finalize_record(Profile& profile, const std::string& record_id,
                                        int64_t now);

}  // namespace satchel::client
