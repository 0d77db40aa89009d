// The coordinator's device registry and completeness report: every sender seen, which are
// registered (after an in-person fingerprint check, or by a device hello), the sequence numbers
// received from each and the gaps between them (withheld or lost bundles), and the quarantine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "satchel/client/profile.h"
#include "satchel/crypto/invite.h"

namespace satchel::coord {

// A run of sequence numbers not received between two that were: first..last inclusive.
struct SequenceGap {
  uint64_t first = 0, last = 0;
};

// How a registered device was registered.
enum class Registration {
  kInPerson,    // coord device add, after a fingerprint check in person
  kInvite,      // a verified device hello (DeviceReport::invite says which invite)
  kUnrecorded,  // registered, how not recorded (a profile restored from a backup)
};

// The invite a device joined with, from its hello.
struct InviteJoin {
  InviteId invite_id{};
  TokenId token_id{};
  std::string label;        // as the hello gave it
  std::string minter_name;  // the minting coordinator, as the roster named it at import
  int64_t minted_day = 0;
};

struct DeviceReport {
  DevicePublicKey key;
  std::optional<std::string> label;  // nullopt: not registered (its records are UNVERIFIED)
  Registration registration = Registration::kUnrecorded;  // when label is set
  std::optional<InviteJoin> invite;                       // when registered by invite
  int64_t first_day = 0, last_day = 0;
  uint64_t bundles = 0;              // verified bundles received
  uint64_t lowest = 0, highest = 0;  // sequence numbers
  std::vector<SequenceGap> gaps;
  std::optional<uint64_t> lost_after;
  // An invite this device presented was presented by another device too: neither is registered
  // by it (coord device add, after an in-person check, settles it).
  bool invite_disputed = false;
};

struct QuarantineEntry {
  int64_t id = 0;
  std::string reason;
  std::optional<DevicePublicKey> sender;  // when the bundle opened
  int64_t received_day = 0;
};

// Every device seen or registered, with its sequence gaps (a device's first bundle is the
// lowest sequence known: sequences start at a random offset, so earlier losses are invisible).
// A device reported lost has no gaps above its cut-off.
Result<std::vector<DeviceReport>> device_reports(client::Profile& profile);
// Registers a device in person under a label (a new one, or one already seen: its records
// become verified; one joined by invite is registered in person from now on).
// kInvalidArgument for an empty label or one over 64 bytes.
Status register_device(client::Profile& profile, const DevicePublicKey& key,
                       const std::string& label, int64_t today);
// Marks a device lost: every bundle of it imported from now on goes to quarantine (its
// sequence is the sender's word, so none is trusted). Returns how many records already imported
// from it have a sequence above `after_sequence` (to be reviewed by hand).
Result<uint64_t> mark_device_lost(client::Profile& profile, const DevicePublicKey& key,
                                  uint64_t after_sequence, int64_t today);
Result<std::vector<QuarantineEntry>> quarantine_entries(client::Profile& profile);

}  // namespace satchel::coord
