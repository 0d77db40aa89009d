// The organisation's forms: every version of every form it added, signed when added and
// numbered in its form publication sequence (schema/trust-documents.md, "Published documents":
// 1 for the first form package ever added, then 2, 3, … whatever the form id).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/client/profile.h"
#include "satchel/crypto/trust_documents.h"

namespace satchel::org {

struct OrgForm {
  uint64_t number = 0;  // its publication number
  std::string form_id;
  uint64_t version = 0;
  Hash32 content_hash{};  // SHA-256 of the form JSON
  std::string package;    // the signed form package ("form-…")
};

// Checks `json` as a form (schema/form-format.md: the id and version are its own), signs its
// package with the organisation key at `now`, and keeps it under the next publication number.
// Refuses a version not greater than the one held for that id (kDocRollback), naming both.
Result<OrgForm> add_form(client::Profile& profile, std::string_view json,
                         const std::string& source_name, int64_t now);
// Every form package version held, by publication number.
Result<std::vector<OrgForm>> forms(client::Profile& profile);
// The highest version held of `form_id`, or nullopt.
Result<std::optional<OrgForm>> latest_form(client::Profile& profile, const std::string& form_id);

}  // namespace satchel::org
