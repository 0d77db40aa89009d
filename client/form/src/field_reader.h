// Reading the fields of a form's JSON objects while collecting every problem, each with its
// place, so that parse_form can report them all at once. Private to satchel_form.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/status.h"

namespace satchel::form::detail {

// Problems found in one form, reported as "<source>: <where>: <field>: <what>" lines.
class Problems {
 public:
  explicit Problems(std::string source) : source_(std::move(source)) {}
  // `where` ("question 'q3'") and `field` ("constraint.min") may be empty.
  void add(std::string_view where, std::string_view field, const std::string& what);
  bool empty() const { return count_ == 0; }
  // All problems as one kInvalidArgument error, one per line (at most kMaxListed lines).
  Error error() const;

  static constexpr size_t kMaxListed = 100;

 private:
  std::string source_;
  std::vector<std::string> lines_;
  size_t count_ = 0;
};

// One JSON object of the form (the top level, a language, a question, a constraint, a choice).
class FieldReader {
 public:
  // Reports a problem if `value` is not an object; then every getter finds nothing.
  FieldReader(const nlohmann::json& value, std::string where, std::string prefix,
              Problems& problems);

  bool is_object() const { return object_ != nullptr; }
  const std::string& where() const { return where_; }
  // Reports every key not in `allowed`; keys in `misplaced` get `why` instead of "unknown".
  void allow_only(const std::vector<std::string_view>& allowed,
                  const std::vector<std::string_view>& misplaced = {}, std::string_view why = "");
  // The raw field, or nullptr when absent (optionally reporting it as missing).
  const nlohmann::json* find(std::string_view key, bool required = false);
  // Typed getters: report a type mismatch (or a missing required field) and return nullopt.
  std::optional<std::string> string(std::string_view key, bool required);
  std::optional<bool> boolean(std::string_view key, bool required);
  std::optional<double> number(std::string_view key);
  std::optional<size_t> count(std::string_view key);  // a non-negative integer
  // Reports a problem with field `key` of this object.
  void problem(std::string_view key, const std::string& what);

 private:
  const nlohmann::json* object_ = nullptr;
  std::string where_;
  std::string prefix_;  // prepended to field names: "constraint."
  Problems& problems_;
};

// "a string", "an array", ...: the JSON type of `value`, for messages.
std::string json_kind(const nlohmann::json& value);

// `value` as compact JSON for a message, cut to about 64 bytes; never throws (invalid UTF-8 in
// strings built by a caller is replaced).
std::string json_excerpt(const nlohmann::json& value);

}  // namespace satchel::form::detail
