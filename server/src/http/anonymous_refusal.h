// Refusals of anonymous requests that proved nothing. Enrollment and session requests that
// prove something (a known, unexpired enrollment code; a signature by a key registered for the
// mailbox) never draw on the relay's anonymous allowance; only their failures do, so a flood
// of failures cannot lock out coordinators and enrolling devices (schema/relay-api.md,
// "Limits").
#pragma once

#include <httplib.h>

#include <string_view>

#include "satchel/relay/relay.h"

namespace satchel::relay {

// Draws one failure from the client address's allowance (direct mode, see AddressFailureLimit)
// and then one from the relay-wide anonymous allowance, and refuses with `status` and `code`;
// once either is spent the refusal is 429 rate-limited with Retry-After instead.
void refuse_unproven(Relay& relay, const httplib::Request& req, httplib::Response& res, int status,
                     std::string_view code);

}  // namespace satchel::relay
