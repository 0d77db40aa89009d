// Paths that name one answer: "age", "household[2].age", "household[0].children[1].name".
// Private to satchel_form.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/status.h"
#include "satchel/form/form.h"

namespace satchel::form::detail {

struct PathSegment {
  std::string id;
  std::optional<size_t> index;  // the repeat instance, for every segment but the last
};

// "a.b" joined the way steps and issues spell paths.
std::string child_path(const std::string& parent, std::string_view id);
// "household[2]".
std::string instance_path(const std::string& repeat_path, size_t index);

// Splits a path and checks it against the form: each id is a question at that level, every
// segment but the last is a repeat with an instance index, and the last has no index.
Result<std::vector<PathSegment>> parse_question_path(const Form& form, std::string_view path);

// The path spelled canonically.
std::string render_path(const std::vector<PathSegment>& segments);

// The object holding the answer named by `segments` (its parent object), or nullptr when
// `answers` does not have that instance.
nlohmann::json* parent_object(nlohmann::json& answers, const std::vector<PathSegment>& segments);

}  // namespace satchel::form::detail
