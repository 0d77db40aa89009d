// Queues a body that is not a record (a device hello, content type 3) as a bundle sealed to the
// roster's coordinators, exactly as finalize queues a record: the next `satchel sync` uploads it.
#pragma once

#include "satchel/client/finalize.h"
#include "satchel/client/profile.h"
#include "satchel/crypto/bundle.h"

namespace satchel::client {

// Seals `body` as a bundle of content type `type` from the profile's device key to the
// coordinators of the held roster (valid at `now`) and queues it in the outbox, inside the
// caller's transaction if one is open. Fails, queuing nothing, without a valid roster.
Result<FinalizedRecord> queue_content(Profile& profile, ContentType type, ByteView body,
                                      int64_t now);

}  // namespace satchel::client
