// Nesting depth of JSON values, measured without recursion, so that hostile answers nested
// thousands of levels deep are refused before any recursive copy or dump can overflow the stack.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>

namespace satchel::form::detail {

// Answers nest at most: document, repeat array, instance object (three levels of repeats), and a
// value (location object, choice array): far below this.
inline constexpr size_t kMaxAnswerDepth = 16;

// True if `value` has arrays or objects nested more than `limit` levels deep.
bool json_deeper_than(const nlohmann::json& value, size_t limit);

}  // namespace satchel::form::detail
