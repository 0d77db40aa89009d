// Answer paths as the questionnaire uses them ("household[2].age", the spelling of form::Step and
// form::AnswerIssue): finding, setting and erasing the answer a path names in the answers document,
// adding repeat instances, and naming the repeat instances that enclose a path.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace satchel::cli::qpath {

// True when `path` lies inside `scope` ("household[1].age" inside "household[1]" or "household").
bool is_within(std::string_view path, std::string_view scope);

// The repeat instances enclosing `path`, innermost first: "a[0].b[2].c" -> {"a[0].b[2]", "a[0]"}.
std::vector<std::string> enclosing_instances(std::string_view path);

struct Instance {
  std::string repeat_path;  // "a[0].b"
  size_t index = 0;         // 2
};
// Splits an instance path "a[0].b[2]"; the path must end in an index.
Instance split_instance(std::string_view instance_path);

// The last id of a path: "household[2].age" -> "age".
std::string_view last_id(std::string_view path);

// The answer at `path`, or nullptr when it or an instance on the way is absent.
const nlohmann::json* find(const nlohmann::json& answers, std::string_view path);

// Sets the answer at `path`. Every instance on the way must exist (as list_steps reported it);
// returns false, changing nothing, when one does not.
bool set(nlohmann::json& answers, std::string_view path, nlohmann::json value);

// Removes the answer at `path` (nothing happens when it is absent). A string answer's bytes are
// wiped first.
void erase(nlohmann::json& answers, std::string_view path);

// Number of instances a repeat's answer holds (0 when absent or not an array).
size_t instance_count(const nlohmann::json& answers, std::string_view repeat_path);

// Appends an empty instance to the repeat at `repeat_path`; returns its index.
size_t add_instance(nlohmann::json& answers, std::string_view repeat_path);

// Removes instance `index` of the repeat at `repeat_path`, wiping the strings it held.
void remove_instance(nlohmann::json& answers, std::string_view repeat_path, size_t index);

// Overwrites every string inside `value` with zero bytes (before it is dropped or replaced).
void wipe_strings(nlohmann::json& value);

}  // namespace satchel::cli::qpath
