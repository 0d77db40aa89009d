#include "field_reader.h"

#include "json_depth.h"

#include <algorithm>
#include <cmath>

#include "text_rules.h"

namespace satchel::form::detail {

void Problems::add(std::string_view where, std::string_view field, const std::string& what) {
  ++count_;
  if (lines_.size() >= kMaxListed) return;
  std::string line = source_ + ": ";
  if (!where.empty()) line.append(where).append(": ");
  if (!field.empty()) line.append(excerpt(field)).append(": ");
  lines_.push_back(line + what);
}

Error Problems::error() const {
  std::string message;
  for (const auto& line : lines_) message += (message.empty() ? "" : "\n") + line;
  if (count_ > lines_.size()) {
    message +=
        "\n" + source_ + ": and " + std::to_string(count_ - lines_.size()) + " more problems";
  }
  return make_error(Errc::kInvalidArgument, message);
}

std::string json_kind(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "an integer";
    case nlohmann::json::value_t::number_float:
      return "a decimal number";
    default:
      return "an unsupported value";
  }
}

std::string json_excerpt(const nlohmann::json& value) {
  // dump() recurses: a value nested deeper than any excerpt could show is named, not printed.
  if (json_deeper_than(value, 8)) return "a deeply nested value";
  return excerpt(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

FieldReader::FieldReader(const nlohmann::json& value, std::string where, std::string prefix,
                         Problems& problems)
    : where_(std::move(where)), prefix_(std::move(prefix)), problems_(problems) {
  if (value.is_object()) {
    object_ = &value;
  } else {
    std::string field = prefix_.empty() ? "" : prefix_.substr(0, prefix_.size() - 1);
    problems_.add(where_, field, "must be an object, not " + json_kind(value));
  }
}

void FieldReader::allow_only(const std::vector<std::string_view>& allowed,
                             const std::vector<std::string_view>& misplaced, std::string_view why) {
  if (!object_) return;
  auto contains = [](const std::vector<std::string_view>& v, const std::string& key) {
    return std::find(v.begin(), v.end(), key) != v.end();
  };
  for (const auto& [key, value] : object_->items()) {
    if (contains(allowed, key)) continue;
    problem(key, contains(misplaced, key) ? std::string(why) : "unknown field");
  }
}

const nlohmann::json* FieldReader::find(std::string_view key, bool required) {
  if (!object_) return nullptr;
  auto it = object_->find(key);
  if (it != object_->end()) return &*it;
  if (required) problem(key, "missing");
  return nullptr;
}

std::optional<std::string> FieldReader::string(std::string_view key, bool required) {
  const nlohmann::json* v = find(key, required);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    problem(key, "must be a string, not " + json_kind(*v));
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<bool> FieldReader::boolean(std::string_view key, bool required) {
  const nlohmann::json* v = find(key, required);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    problem(key, "must be true or false, not " + json_kind(*v));
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<double> FieldReader::number(std::string_view key) {
  const nlohmann::json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_number() || !std::isfinite(v->get<double>())) {
    problem(key, "must be a number, not " + json_kind(*v));
    return std::nullopt;
  }
  return v->get<double>();
}

std::optional<size_t> FieldReader::count(std::string_view key) {
  const nlohmann::json* v = find(key);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned() || (v->is_number_integer() && v->get<int64_t>() >= 0)) {
    return v->get<size_t>();
  }
  problem(key, "must be a non-negative integer, not " +
                   (v->is_number_integer() ? std::string("a negative one") : json_kind(*v)));
  return std::nullopt;
}

void FieldReader::problem(std::string_view key, const std::string& what) {
  problems_.add(where_, prefix_ + std::string(key), what);
}

}  // namespace satchel::form::detail
