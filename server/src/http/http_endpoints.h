// Registration of the relay's HTTP endpoints on a cpp-httplib server (schema/relay-api.md):
// the device side (enrollment, tus uploads, published documents) and the coordinator side
// (challenge, session, listing, download, acknowledgement, documents, codes, revocation,
// registrations).
#pragma once

#include <httplib.h>

#include "satchel/relay/relay.h"

namespace satchel::relay {

void add_device_endpoints(httplib::Server& server, Relay& relay);
void add_coordinator_endpoints(httplib::Server& server, Relay& relay);

}  // namespace satchel::relay
