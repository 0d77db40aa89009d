// JSON text to nlohmann::json for documents that must mean one thing only: refuses oversize
// input, syntax errors (with line and column) and duplicate object keys, which other parsers
// would resolve differently. Never throws. Private to satchel_form.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "satchel/crypto/status.h"

namespace satchel::form::detail {

// Parses `text`; errors (kInvalidArgument) start with "<source_name>: ".
Result<nlohmann::json> parse_strict_json(std::string_view text, const std::string& source_name,
                                         size_t max_bytes);

}  // namespace satchel::form::detail
