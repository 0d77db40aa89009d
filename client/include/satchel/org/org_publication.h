// What the organisation signs for the online world (`satchel org publish -o DIR`): the roster,
// the relay registration and every form package, written to a folder a coordinator carries to
// `satchel coord publish`. A new roster or registration version is signed only when what it
// says changed since the last one signed; otherwise the last text is written again.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "satchel/client/profile.h"
#include "satchel/org/org_forms.h"

namespace satchel::org {

// Why the roster in a publication has its version.
enum class RosterReason {
  kUnchanged,  // the last roster signed, written again
  kFirst,      // no roster was signed before
  kChanged,    // name, slots, coordinators or relays differ from the last roster
  kExpired,    // the last roster has expired: signed again with a fresh validity
  kRenewed,    // asked for (`--renew`)
};

struct SignedDocument {
  uint64_t version = 0;
  std::string text;         // "roster-…" or "registration-…"
  bool signed_now = false;  // false: the last one signed, unchanged
  int64_t expires_at = 0;   // rosters only
};

struct Publication {
  SignedDocument roster, registration;
  RosterReason roster_reason = RosterReason::kUnchanged;
  std::vector<OrgForm> forms;  // every form package version, by publication number
};

// What the state says that no publication carried yet.
struct PendingChanges {
  bool no_roster = false;  // no roster was ever signed
  bool roster = false;     // name, slots, coordinators or relays changed
  bool roster_expired = false;
  bool no_registration = false;  // no registration was ever signed
  bool registration = false;     // the coordinators' relay keys or k changed
  uint64_t forms = 0;            // form packages added since the last publication
  bool any() const {
    return no_roster || roster || roster_expired || no_registration || registration || forms;
  }
};

Result<PendingChanges> pending_changes(client::Profile& profile, int64_t now);
// The changes in words ("the roster changed, 2 form package(s) were added").
std::string describe(const PendingChanges& changes);

// The last roster and registration signed, and the forms published.
struct LastPublication {
  uint64_t roster_version = 0;  // 0: none signed yet
  int64_t roster_expires_at = 0;
  uint64_t registration_version = 0;  // 0: none signed yet
  uint64_t forms_published = 0;       // the highest form publication number published
};
Result<LastPublication> last_publication(client::Profile& profile);

// Signs what changed (a roster also when the last one expired, or when `renew`), records the
// new versions and that every form is published, and returns everything to write. Refuses a
// state no roster can be made of (no coordinator or relay, more coordinators than slots, k
// above the coordinators), naming the command that fixes it.
Result<Publication> prepare_publication(client::Profile& profile, int64_t now, bool renew);

// kAlreadyExists unless `dir` is missing or an empty directory.
Status check_publication_dir(const std::string& dir);
// Writes roster.txt, registration.txt and forms/NNNNNN.form into `dir` (made mode 0700 when
// missing, which must be empty). Files are mode 0600: they are signed, not secret, but name the
// coordinators and say what the forms ask.
Status write_publication(const Publication& publication, const std::string& dir);
// The file name of a form package under forms/: the number in six digits or more, ".form".
std::string form_file_name(uint64_t number);

}  // namespace satchel::org
