#include "satchel/client/queue_content.h"

#include "satchel/client/outbox.h"
#include "satchel/client/trust_store.h"
#include "satchel/crypto/io.h"

namespace satchel::client {

Result<FinalizedRecord> queue_content(Profile& profile, ContentType type, ByteView body,
                                      int64_t now) {
  auto roster = TrustStore(profile).roster(now);
  if (!roster) return roster.error();
  if (!*roster)
    return make_error(Errc::kNotFound,
                      "no roster: the device does not know its coordinators yet (satchel roster "
                      "add FILE)");
  auto device = profile.device_key();
  if (!device) return device.error();
  auto tx = Transaction::begin(profile.db());
  if (!tx) return tx.error();
  auto seq = profile.take_sequence();
  if (!seq) return seq.error();
  SealRequest req = roster_seal_request(**roster, *device, *seq, now, type);
  req.metadata.body_length = body.size();
  auto writer = OutboxWriter::begin(profile);
  if (!writer) return writer.error();
  MemorySource src(body);
  auto sealed = seal_bundle(std::move(req), src, *writer);
  Result<OutboxEntry> entry = sealed ? writer->finish(*seq) : Result<OutboxEntry>(sealed.error());
  Status s = entry ? tx->commit() : Status(entry.error());
  if (!s) {
    // Until a commit names it, the entry's key guards nothing.
    (void)profile.keyring().destroy(writer->key_slot());
    return s.error();
  }
  return FinalizedRecord{std::move(entry.value()), sealed->bundle_id, {}};
}

}  // namespace satchel::client
