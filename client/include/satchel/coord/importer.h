// Importing bundles into a coordinator profile (schema/client-database.md, "Coordinator
// store"): each bundle is opened with the coordinator's key (every rule of
// schema/bundle-format.md), recorded for completeness, and imported, dropped as a duplicate,
// discarded as cover, or kept in quarantine with its reason — all in one transaction, so that a
// crash at any point leaves either nothing or the whole outcome, and a bundle seen again (under
// any upload id or file name) is counted as a duplicate, never imported twice.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "satchel/client/database.h"
#include "satchel/client/profile.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/io.h"

namespace satchel::coord {

enum class ImportResult {
  kImported,     // a record, now in coord_records
  kDuplicate,    // a bundle id already seen: nothing changed
  kCover,        // cover traffic: verified, sequence recorded, content discarded
  kQuarantined,  // kept in coord_quarantine with `detail` as the reason
  kRetraction,   // a retraction: its record flagged (or the hash kept until the record arrives)
  kJoined,       // a device hello: its invite recorded, its device registered as joined by it
};
const char* import_result_name(ImportResult r);

struct ImportOutcome {
  ImportResult result = ImportResult::kImported;
  std::string detail;    // the record id (imported), the reason (quarantined), what joined
  bool opened = true;    // false: the bundle did not open with this coordinator's key
  bool no_slot = false;  // it did not open because no slot opens for this key
};

// Days since 1970-01-01 UTC of a Unix time: the only time the store keeps about receipt.
int64_t day_of(int64_t unix_seconds);

// An open import batch (Importer::begin_batch): its transaction, and the pool's deferred syncs,
// which end with it (rolled back unless committed).
class ImportBatch {
 public:
  ImportBatch(client::Profile& profile, client::Transaction tx);
  ImportBatch(ImportBatch&& o) noexcept
      : profile_(std::exchange(o.profile_, nullptr)), tx_(std::move(o.tx_)) {}
  ImportBatch& operator=(ImportBatch&&) = delete;
  ~ImportBatch();
  // Syncs the pool once, then commits.
  Status commit();

 private:
  client::Profile* profile_;
  std::optional<client::Transaction> tx_;
};

class Importer {
 public:
  // Refuses a profile that is not a coordinator profile.
  static Result<Importer> open(client::Profile& profile);
  // Imports one bundle received on `received_day`. An error (not an outcome) only when the
  // source cannot be read or the store cannot be written; nothing is then changed.
  Result<ImportOutcome> import(RandomAccessSource& bundle, int64_t received_day);

  // Groups the imports that follow into one durable commit (a bulk pull's batch): each import
  // is then a savepoint inside the batch's transaction, and the body store's syncs wait for
  // commit_batch(). Nothing imported in a batch is durable — or may be acknowledged — before
  // commit_batch() returns Ok; destroying the importer, or an error, rolls the batch back.
  Status begin_batch();
  // Syncs the body store once, then commits every import of the batch.
  Status commit_batch();

 private:
  Importer(client::Profile& p, CoordinatorSecretKey key) : profile_(&p), key_(std::move(key)) {}
  // Files a bundle that opened (its body stored as `body_id`), inside the open transaction.
  Result<ImportOutcome> file_opened(const OpenedBundle& b, int64_t body_id, int64_t day);
  client::Profile* profile_;
  CoordinatorSecretKey key_;
  std::optional<ImportBatch> batch_;  // open between begin_batch and commit_batch
};

// Imports the quarantined records that waited for this form (now held): each one that passes
// every check leaves quarantine; one that fails another check stays, with that reason. Returns
// how many were imported.
Result<size_t> import_waiting_records(client::Profile& profile, const std::string& form_id,
                                      uint64_t version);

// import_waiting_records for every form now held that some record waits for (run by `coord
// import` and `coord pull` before anything else, so a crash between adding a form and
// importing its waiting records is made good).
Result<size_t> import_all_waiting_records(client::Profile& profile);

}  // namespace satchel::coord
