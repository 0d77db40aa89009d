// Moving the relay to its backup key (`satchel-relay tls rotate`): a certificate for the backup
// key the operator brings back from offline storage, a new backup key in its place, and the
// configuration switched to them in one rename, so that a crash at any point leaves the relay
// with a complete key and certificate (the old ones or the new ones). The old key is overwritten
// and removed. The relay serves the new certificate from its next start.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "satchel/crypto/bundle.h"
#include "satchel/crypto/status.h"
#include "satchel/relay/file_ops.h"

namespace satchel::relay {

struct TlsRotationRequest {
  std::string config_path;         // relay.conf (tls = on, no challenge_pin)
  std::string backup_key_path;     // the backup key's PEM file, brought back from offline storage
  std::vector<std::string> names;  // the new certificate's names; empty: the current one's
  int64_t now = 0;                 // Unix seconds (the certificate's day-rounded validity)
};

struct TlsRotationResult {
  // The pin served before (all zero when `resumed`: not known any more).
  Hash32 old_pin{};
  Hash32 pin{};                                    // served from the next start: the backup key's
  Hash32 backup_pin{};                             // the new backup key's
  std::string certificate_path, private_key_path;  // absolute, named in relay.conf
  std::string new_backup_key_path;                 // <config dir>/backup-key.pem, mode 0600
  // True when this run only finished a rotation that was cut after the configuration switched.
  bool resumed = false;
  // Files that could not be overwritten or removed (the rotation itself succeeded).
  std::vector<std::string> leftovers;
};

// Rotates as described above. Refuses, changing nothing: a configuration with tls = off or a
// challenge_pin (TLS ends at a proxy, whose certificate is rotated there), a backup key whose
// pin is the one served, and a <config dir>/backup-key.pem holding another key than the one
// brought back. Run again after a crash, it finishes the cut rotation (same new backup key).
// The backup key file given is overwritten and removed once the relay's configuration names
// its copy.
Result<TlsRotationResult> rotate_tls_identity(const TlsRotationRequest& request, FileOps& ops);

}  // namespace satchel::relay
