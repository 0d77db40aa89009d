#include "satchel/coord/invite_minting.h"

#include <cstring>

#include "satchel/coord/coordinator_link.h"
#include "satchel/coord/invite_book.h"

namespace satchel::coord {

Result<IssuedInvite> issue_invite(client::Profile& profile, const InviteRequest& r) {
  SATCHEL_TRY(profile.require_kind(client::ProfileKind::kCoordinator));
  auto base = current_invite_base(profile, r.now);
  if (!base) return base.error();
  if (!*base)
    return make_error(Errc::kNotFound,
                      "no invite base: the organisation signs one (`satchel org invite-base`) and "
                      "a coordinator imports it with `satchel coord invite-base import FILE`");
  const Roster& base_roster = (*base)->roster();
  if (r.relay_index >= base_roster.relays.size() || r.relay_index > 255)
    return make_error(Errc::kInvalidArgument, "the invite base's roster names " +
                                                  std::to_string(base_roster.relays.size()) +
                                                  " relay(s); there is no relay " +
                                                  std::to_string(r.relay_index));
  auto key = profile.coordinator_key();
  if (!key) return key.error();
  auto link = open_coordinator_link(profile, r.relay_index, r.relay, r.now);
  if (!link) return link.error();
  if (link->roster.relays[r.relay_index].url != base_roster.relays[r.relay_index].url)
    return make_error(
        Errc::kInvalidArgument,
        "the invite base's roster names " + base_roster.relays[r.relay_index].url + " as relay " +
            std::to_string(r.relay_index) + ", this coordinator's roster names " +
            link->roster.relays[r.relay_index].url + ": import a newer invite base first");
  auto code = link->relay->mint_enrollment_code(link->session, r.hours);
  if (!code) return code.error();
  auto id_bytes = from_hex(code->code_id);
  if (!id_bytes || id_bytes->size() != 8)
    return make_error(Errc::kRelayRefused, "the relay's code id is not 16 hex digits");
  IssuedInvite out;
  std::memcpy(out.token_id.data(), id_bytes->data(), 8);
  auto minted = mint_invite(**base, code->code, code->expires_at,
                            static_cast<uint8_t>(r.relay_index), out.token_id, r.now, *key);
  if (!minted) return minted.error();
  MintedInviteEntry entry;
  entry.invite_id = minted->id;
  entry.token_id = out.token_id;
  entry.minted_day = r.now / 86400;
  entry.relay_index = static_cast<uint8_t>(r.relay_index);
  SATCHEL_TRY(record_minted_invite(profile, entry));
  out.text = std::move(minted->text);
  out.id = minted->id;
  out.code_expires_at = code->expires_at;
  out.expires_at = (*base)->base().expires_at;
  return out;
}

}  // namespace satchel::coord
