// Exports of imported records for analysis (`satchel coord export`): CSV (one file per form
// version, one more per repeat group, linked by record id and instance path) or JSON Lines
// (typed values, repeats nested), and optionally the attachments' bytes. Identifying answers,
// attachment names and device labels are left out unless asked for; unverified senders' and
// retracted records are left out unless asked for. Files are created mode 0600, never over an
// existing file, each appearing complete or not at all; every export is logged in the profile.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "satchel/client/profile.h"

namespace satchel::coord {

enum class ExportFormat { kCsv, kJsonLines };

struct ExportOptions {
  std::string form_id;
  std::optional<uint64_t> version;  // nullopt: every version that has records
  ExportFormat format = ExportFormat::kCsv;
  std::string out_dir;  // must exist
  std::string lang;     // choice labels; empty: the form's default language
  bool include_identifying = false;
  bool include_unverified = false;
  bool include_retracted = false;
  bool attachments = false;  // extract attachments into out_dir/attachments/
  int64_t now = 0;           // Unix seconds, for the export log
};

struct ExportSummary {
  std::vector<std::string> files;  // every file written
  uint64_t records = 0;
  uint64_t left_out_unverified = 0;
  uint64_t left_out_retracted = 0;
};

// Writes the export. kNotFound if no record of the form (and version) is held; kAlreadyExists
// naming the file if an output file exists (nothing is then written).
Result<ExportSummary> export_records(client::Profile& profile, const ExportOptions& options);

// The per-coordinator pseudonym of a device ("d-" + 16 hex digits): a keyed hash of the device
// key under a key derived from this coordinator's secret, so that exports of two coordinators
// cannot be joined on it and it names no one.
std::string device_pseudonym(const CoordinatorSecretKey& coordinator,
                             const DevicePublicKey& device);

}  // namespace satchel::coord
