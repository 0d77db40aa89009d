// Trust anchors from the command line, shared by the field commands (`satchel trust org`,
// `roster add`, `form add`) and the coordinator's (`satchel coord trust org`, …): each opens
// the profile of the kind given and refuses the other kind.
#pragma once

#include <string>
#include <string_view>

#include "satchel/client/profile.h"

namespace satchel::cli {

// Trusts an organisation key after its fingerprint is confirmed (typed, or `confirm`).
int trust_org(const std::string& key_text, const std::string& confirm, client::ProfileKind kind);
// Accepts a signed roster: newer than the one held and unexpired.
int roster_add(const std::string& path, client::ProfileKind kind);
// Verifies and adds a signed form.
int form_add(const std::string& path, client::ProfileKind kind);
// The decimal digits of a fingerprint as typed (spaces and dashes ignored).
std::string digits_only(std::string_view s);

}  // namespace satchel::cli
