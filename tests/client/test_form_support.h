// Helpers shared by the form engine tests: build a form around a few questions and parse it,
// failing the test with the parser's message when it refuses.
#pragma once

#include <catch2/catch_test_macros.hpp>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "satchel/form/form.h"

namespace satchel::form::testing {

// A complete form definition (languages en + ar) holding the array `questions`.
inline nlohmann::json form_json(nlohmann::json questions) {
  return {
      {"id", "test-form"},
      {"version", 1},
      {"title", {{"en", "Test"}, {"ar", "اختبار"}}},
      {"languages",
       {{{"code", "en"}, {"name", "English"}, {"rtl", false}},
        {{"code", "ar"}, {"name", "العربية"}, {"rtl", true}}}},
      {"default_language", "en"},
      {"questions", std::move(questions)},
  };
}

// The same from a braced list of questions. (A one-element braced list converted to a json
// parameter is a copy of the element for some compilers and an array for others.)
inline nlohmann::json form_json(std::initializer_list<nlohmann::json> questions) {
  return form_json(nlohmann::json(std::vector<nlohmann::json>(questions)));
}

// A question with an English label; `extra` fields are merged in.
inline nlohmann::json question(const std::string& id, const std::string& type,
                               nlohmann::json extra = nlohmann::json::object()) {
  nlohmann::json q = {{"id", id}, {"type", type}, {"label", {{"en", "Label of " + id}}}};
  q.update(extra);
  return q;
}

// Choices {value, label} for the given values.
inline nlohmann::json choices(std::initializer_list<const char*> values) {
  nlohmann::json list = nlohmann::json::array();
  for (const char* v : values) list.push_back({{"value", v}, {"label", {{"en", v}}}});
  return list;
}

// Parses `form`, requiring success.
inline Form parse_ok(const nlohmann::json& form) {
  auto r = parse_form(form.dump(), "test.json");
  if (!r.ok()) FAIL(r.error().message);
  return std::move(r).value();
}

// The error message of a form that must be refused.
inline std::string parse_error(const nlohmann::json& form) {
  auto r = parse_form(form.dump(), "test.json");
  if (r.ok()) FAIL("the form was accepted");
  CHECK(r.code() == Errc::kInvalidArgument);
  return r.error().message;
}

}  // namespace satchel::form::testing
