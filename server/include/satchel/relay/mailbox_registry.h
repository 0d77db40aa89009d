// MailboxRegistry: mailboxes created from organisation-signed relay registrations. The first
// registration pins its organisation key (trust on first use); a newer one signed by the same
// key replaces it. The relay learns only the coordinators' Ed25519 relay keys and k of n.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "satchel/crypto/trust_documents.h"
#include "satchel/relay/relay_store.h"

namespace satchel::relay {

// A mailbox with its registration verified against the pinned organisation key.
struct ActiveMailbox {
  std::string id;
  RelayRegistration registration;
  // Acknowledgements needed before deletion: k, or every registered coordinator when k is 0.
  size_t required_acks() const;
};

struct RegistrationOutcome {
  std::string mailbox;
  bool replaced = false;  // an older registration was replaced
  uint64_t version = 0;
};

class MailboxRegistry {
 public:
  // `tombstone_days`: how long a bundle delivered because of a registration change stays
  // answerable as delivered.
  MailboxRegistry(RelayStore& store, uint32_t tombstone_days);

  // Creates the organisation's mailbox from a signed registration, or replaces it with a newer
  // one signed by the pinned key (kDocUntrustedSigner / kDocRollback otherwise), then applies
  // the acknowledgement rule of the new registration to bundles already acknowledged.
  Result<RegistrationOutcome> register_mailbox(std::string_view registration_text, Day today);
  // Replaces the registration of the existing mailbox `id` (a coordinator's upload): the text
  // must verify under the mailbox's pinned organisation key (kDocUntrustedSigner for another
  // key, another kDoc* code if malformed or badly signed) and be strictly newer than the held
  // one (kDocRollback); then applies its acknowledgement rule as register_mailbox does.
  // kNotFound if there is no such mailbox; kInternal if the held registration does not verify.
  Result<ActiveMailbox> replace_registration(std::string_view id,
                                             std::string_view registration_text, Day today);
  // The mailbox with its verified registration, or nullopt if there is none with this id.
  Result<std::optional<ActiveMailbox>> find(std::string_view id);

 private:
  // Stores `incoming` (verified, its update rule checked) as mailbox `id`'s registration and,
  // when it replaced one, delivers the bundles its acknowledgement rule now releases.
  Status store_locked(const std::string& id, const RelayRegistration& incoming,
                      std::string_view text, bool replaced, Day today);

  // Verifies every stored registration into the cache, once.
  Status warm_once();

  RelayStore& store_;
  uint32_t tombstone_days_;
  std::mutex mu_;
  std::map<std::string, ActiveMailbox, std::less<>> cache_;  // verified, by id
  bool warmed_ = false;  // every stored mailbox verified into the cache (on the first find)
};

}  // namespace satchel::relay
