// Filing a device hello (bundle content type 3; schema/trust-documents.md, "Device hello"):
// rules H1-H4, then the coordinator's own rules (minted by a coordinator of the roster held, one
// device per invite), and the device registered as joined by invite.
#pragma once

#include <cstdint>
#include <string>

#include "satchel/client/profile.h"
#include "satchel/crypto/io.h"
#include "satchel/crypto/keys.h"

namespace satchel::coord {

enum class HelloVerdict {
  kJoined,         // the invite is recorded; the device registered unless it already was
  kAlreadyJoined,  // this device's hello for this invite was filed before: nothing changed
  kRefused,        // to quarantine, with the rule it broke as the reason
};

struct HelloFiling {
  HelloVerdict verdict = HelloVerdict::kRefused;
  std::string detail;  // what changed, or the reason
};

// Files the hello in `body`, sent by `sender` (the bundle's authenticated sender), inside the
// caller's transaction. An Error only when the body or the store cannot be read or written.
Result<HelloFiling> file_device_hello(client::Profile& profile, RandomAccessSource& body,
                                      const DevicePublicKey& sender, int64_t day);

}  // namespace satchel::coord
