// Hostile inputs found by fuzzing the form engine: deep nesting and lookahead patterns are refused
// quickly instead of overflowing the stack or taking minutes.
#include <catch2/catch_test_macros.hpp>
#include <string>

#include "satchel/form/form.h"
#include "satchel/form/relevance.h"
#include "satchel/form/validate.h"

using namespace satchel;

namespace {
constexpr const char* kForm = R"({"id":"f","version":1,"title":{"en":"F"},
  "languages":[{"code":"en","name":"English","rtl":false}],"default_language":"en",
  "questions":[{"id":"q","type":"multiple_choice","label":{"en":"Q"},
                "choices":[{"value":"a","label":{"en":"A"}}]}]})";

std::string nested(size_t n) {
  return std::string(n, '[') + std::string(n, ']');
}
}  // namespace

TEST_CASE("answers nested 100000 levels deep are refused without recursion", "[form][hostile]") {
  auto form = form::parse_form(kForm, "f.json");
  REQUIRE(form.ok());
  auto answers = nlohmann::json::parse("{\"q\":" + nested(100000) + "}");
  auto issues = form::validate_answers(*form, answers, form::ValidationMode::kFinal);
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].rule == form::Rule::kSize);
  CHECK(form::prune_irrelevant(*form, answers) == nlohmann::json::object());
}

TEST_CASE("a form field nested 100000 levels deep is reported without dumping it",
          "[form][hostile]") {
  auto r = form::parse_form("{\"version\":" + nested(100000) + "}", "deep.json");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("deeply nested") != std::string::npos);
}

TEST_CASE("patterns with lookahead assertions are refused at load", "[form][hostile]") {
  const char* f = R"({"id":"f","version":1,"title":{"en":"F"},
    "languages":[{"code":"en","name":"English","rtl":false}],"default_language":"en",
    "questions":[{"id":"q","type":"text","label":{"en":"Q"},
                  "constraint":{"pattern":"(?:(?=.*$).)*"}}]})";
  auto r = form::parse_form(f, "look.json");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("lookahead") != std::string::npos);
}
