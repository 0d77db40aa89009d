// Answer validation: every question type with valid and invalid answers, constraints and their
// messages, required and consent, draft versus final, and many problems reported at once.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include "client/test_form_support.h"
#include "satchel/form/validate.h"

using namespace satchel;
using namespace satchel::form;
using namespace satchel::form::testing;
using Catch::Matchers::ContainsSubstring;
using nlohmann::json;

namespace {

// "path rule" for each issue, in order: compact to compare.
std::vector<std::string> summary(const std::vector<AnswerIssue>& issues) {
  std::vector<std::string> out;
  for (const auto& i : issues) out.push_back(i.path + " " + rule_name(i.rule));
  return out;
}

// Issues of a single answer `a` to a form made of `q` alone (id "q"), in draft mode.
std::vector<std::string> check_one(const json& q, const json& a,
                                   ValidationMode mode = ValidationMode::kDraft) {
  Form form = parse_ok(form_json({q}));
  return summary(validate_answers(form, {{"q", a}}, mode));
}

using Issues = std::vector<std::string>;
const Issues kNone;

}  // namespace

TEST_CASE("text and long_text: strings within their byte limits", "[form][validate]") {
  json text = question("q", "text");
  CHECK(check_one(text, "hello") == kNone);
  CHECK(check_one(text, "مرحبا") == kNone);
  CHECK(check_one(text, 12) == Issues{"q type"});
  CHECK(check_one(text, std::string(kMaxTextAnswerBytes, 'x')) == kNone);
  CHECK(check_one(text, std::string(kMaxTextAnswerBytes + 1, 'x')) == Issues{"q size"});
  json long_text = question("q", "long_text");
  CHECK(check_one(long_text, std::string(kMaxLongTextAnswerBytes, 'x')) == kNone);
  CHECK(check_one(long_text, std::string(kMaxLongTextAnswerBytes + 1, 'x')) == Issues{"q size"});
  CHECK(check_one(long_text, json::array({"a"})) == Issues{"q type"});
}

TEST_CASE("integer and decimal: numbers of the right kind", "[form][validate]") {
  json integer = question("q", "integer");
  CHECK(check_one(integer, 42) == kNone);
  CHECK(check_one(integer, -7) == kNone);
  CHECK(check_one(integer, 4.5) == Issues{"q type"});
  CHECK(check_one(integer, 4.0) == Issues{"q type"});  // a JSON integer is required
  CHECK(check_one(integer, "42") == Issues{"q type"});
  CHECK(check_one(integer, json(18446744073709551615ULL)) == Issues{"q type"});
  json decimal = question("q", "decimal");
  CHECK(check_one(decimal, 4.5) == kNone);
  CHECK(check_one(decimal, 4) == kNone);
  CHECK(check_one(decimal, true) == Issues{"q type"});
}

TEST_CASE("date: real calendar dates only", "[form][validate]") {
  json date = question("q", "date");
  CHECK(check_one(date, "2024-02-29") == kNone);
  CHECK(check_one(date, "2023-02-29") == Issues{"q type"});
  CHECK(check_one(date, "2024-2-9") == Issues{"q type"});
  CHECK(check_one(date, "2024-04-31") == Issues{"q type"});
  CHECK(check_one(date, "0000-01-01") == Issues{"q type"});
  CHECK(check_one(date, 20240101) == Issues{"q type"});
}

TEST_CASE("single and multiple choice: known values, no repeats", "[form][validate]") {
  json single = question("q", "single_choice", {{"choices", choices({"a", "b"})}});
  CHECK(check_one(single, "a") == kNone);
  CHECK(check_one(single, "c") == Issues{"q choices"});
  CHECK(check_one(single, json::array({"a"})) == Issues{"q type"});
  json multiple = question("q", "multiple_choice", {{"choices", choices({"a", "b", "c"})}});
  CHECK(check_one(multiple, {"a", "c"}) == kNone);
  CHECK(check_one(multiple, {"a", "z"}) == Issues{"q choices"});
  CHECK(check_one(multiple, {"a", "a"}) == Issues{"q choices"});
  CHECK(check_one(multiple, {"a", 1}) == Issues{"q choices"});
  CHECK(check_one(multiple, "a") == Issues{"q type"});
}

TEST_CASE("yes_no and consent: booleans", "[form][validate]") {
  CHECK(check_one(question("q", "yes_no"), false) == kNone);
  CHECK(check_one(question("q", "yes_no"), "yes") == Issues{"q type"});
  CHECK(check_one(question("q", "consent"), true) == kNone);
  CHECK(check_one(question("q", "consent"), 1) == Issues{"q type"});
}

TEST_CASE("location: a place, and coordinates in range given together", "[form][validate]") {
  json loc = question("q", "location");
  CHECK(check_one(loc, {{"place", "Tijuana"}}) == kNone);
  CHECK(check_one(loc, {{"place", "Tijuana"}, {"lat", 32.5}, {"lon", -117.0}}) == kNone);
  CHECK(check_one(loc, {{"lat", 32.5}, {"lon", -117.0}}) == Issues{"q type"});
  CHECK(check_one(loc, {{"place", ""}}) == Issues{"q type"});
  CHECK(check_one(loc, {{"place", "X"}, {"lat", 91}, {"lon", 0}}) == Issues{"q type"});
  CHECK(check_one(loc, {{"place", "X"}, {"lat", 0}, {"lon", -180.5}}) == Issues{"q type"});
  CHECK(check_one(loc, {{"place", "X"}, {"lat", 10}}) == Issues{"q type"});
  CHECK(check_one(loc, {{"place", "X"}, {"alt", 10}}) == Issues{"q type"});
  CHECK(check_one(loc, "Tijuana") == Issues{"q type"});
}

TEST_CASE("attachment: unique attachment ids", "[form][validate]") {
  json att = question("q", "attachment", {{"accept", {"audio", "document"}}});
  CHECK(check_one(att, json::array()) == kNone);
  CHECK(check_one(att, {"a1b2", "c3-d4_e5"}) == kNone);
  CHECK(check_one(att, {"../etc/passwd"}) == Issues{"q type"});
  CHECK(check_one(att, {"a1", "a1"}) == Issues{"q type"});
  CHECK(check_one(att, "a1") == Issues{"q type"});
  json many = json::array();
  for (size_t i = 0; i <= kMaxAttachmentsPerQuestion; ++i) {
    std::string id = "f";
    id += std::to_string(i);
    many.push_back(id);
  }
  CHECK(check_one(att, many) == Issues{"q size"});
}

TEST_CASE("numeric and date bounds are inclusive", "[form][validate]") {
  json n = question("q", "integer", {{"constraint", {{"min", 18}, {"max", 120}}}});
  CHECK(check_one(n, 18) == kNone);
  CHECK(check_one(n, 120) == kNone);
  CHECK(check_one(n, 17) == Issues{"q min"});
  CHECK(check_one(n, 121) == Issues{"q max"});
  json d = question("q", "date", {{"constraint", {{"min", "2018-12-10"}, {"max", "2026-12-31"}}}});
  CHECK(check_one(d, "2018-12-10") == kNone);
  CHECK(check_one(d, "2018-12-09") == Issues{"q min"});
  CHECK(check_one(d, "2027-01-01") == Issues{"q max"});
}

TEST_CASE("text lengths count characters, and patterns match the whole answer",
          "[form][validate]") {
  json t =
      question("q", "text",
               {{"constraint", {{"min_length", 3}, {"max_length", 5}, {"pattern", "[0-9+ ]+"}}}});
  CHECK(check_one(t, "+44 1") == kNone);
  CHECK(check_one(t, "12") == Issues{"q min_length"});
  CHECK(check_one(t, "123456") == Issues{"q max_length"});
  CHECK(check_one(t, "12a4") == Issues{"q pattern"});
  CHECK(check_one(t, "x") == (Issues{"q min_length", "q pattern"}));
  json arabic = question("q", "text", {{"constraint", {{"max_length", 5}}}});
  CHECK(check_one(arabic, "مرحبا") == kNone);  // 5 characters, 10 bytes
}

TEST_CASE("patterns match answers of the largest size without deep recursion or backtracking",
          "[form][validate]") {
  std::string longest(kMaxTextAnswerBytes, 'a');
  CHECK(check_one(question("q", "text", {{"constraint", {{"pattern", "(a|b)*"}}}}), longest) ==
        kNone);
  CHECK(check_one(question("q", "text", {{"constraint", {{"pattern", "((a|aa)+)+b"}}}}), longest) ==
        Issues{"q pattern"});
  CHECK(check_one(question("q", "text", {{"constraint", {{"pattern", "((a?){10}){100}"}}}}),
                  longest) == Issues{"q pattern"});
}

TEST_CASE("choice counts are checked", "[form][validate]") {
  json m = question("q", "multiple_choice",
                    {{"choices", choices({"a", "b", "c"})},
                     {"constraint", {{"min_choices", 2}, {"max_choices", 2}}}});
  CHECK(check_one(m, {"a", "b"}) == kNone);
  CHECK(check_one(m, {"a"}) == Issues{"q min_choices"});
  CHECK(check_one(m, {"a", "b", "c"}) == Issues{"q max_choices"});
}

TEST_CASE("a constraint's message is given in the chosen language", "[form][validate]") {
  json q =
      question("q", "integer",
               {{"constraint",
                 {{"min", 0},
                  {"message", {{"en", "Cannot be negative"}, {"ar", "لا يمكن أن يكون سالبًا"}}}}}});
  Form form = parse_ok(form_json({q, question("r", "integer", {{"constraint", {{"max", 9}}}})}));
  json answers = {{"q", -1}, {"r", 10}};
  auto ar = validate_answers(form, answers, ValidationMode::kDraft, "ar");
  REQUIRE(ar.size() == 2);
  CHECK(ar[0].message == "لا يمكن أن يكون سالبًا");
  CHECK(ar[1].message == "must be at most 9");  // no message of its own: the built-in one
  CHECK(validate_answers(form, answers, ValidationMode::kDraft, "en")[0].message ==
        "Cannot be negative");
  CHECK(validate_answers(form, answers, ValidationMode::kDraft, "fr")[0].message ==
        "Cannot be negative");  // no French: the default language
}

TEST_CASE("required questions are checked only in final mode", "[form][validate]") {
  Form form = parse_ok(form_json(
      {question("a", "text", {{"required", true}}), question("b", "yes_no", {{"required", true}}),
       question("c", "multiple_choice", {{"required", true}, {"choices", choices({"x"})}}),
       question("d", "text")}));
  CHECK(validate_answers(form, json::object(), ValidationMode::kDraft).empty());
  CHECK(summary(validate_answers(form, json::object(), ValidationMode::kFinal)) ==
        Issues{"a required", "b required", "c required"});
  // "", null and [] are no answers; false is one.
  json empty = {{"a", ""}, {"b", false}, {"c", json::array()}, {"d", nullptr}};
  CHECK(summary(validate_answers(form, empty, ValidationMode::kFinal)) ==
        Issues{"a required", "c required"});
}

TEST_CASE("a refused required consent blocks finalizing", "[form][validate]") {
  Form form = parse_ok(form_json(
      {question("consent", "consent", {{"required", true}}), question("optional", "consent")}));
  CHECK(validate_answers(form, {{"consent", true}, {"optional", false}}, ValidationMode::kFinal)
            .empty());
  auto refused = validate_answers(form, {{"consent", false}}, ValidationMode::kFinal);
  CHECK(summary(refused) == Issues{"consent consent"});
  CHECK_THAT(refused[0].message, ContainsSubstring("cannot be finalized"));
  CHECK(summary(validate_answers(form, json::object(), ValidationMode::kFinal)) ==
        Issues{"consent required"});
  CHECK(validate_answers(form, {{"consent", false}}, ValidationMode::kDraft).empty());
}

TEST_CASE("answers to unknown questions are reported in both modes", "[form][validate]") {
  Form form = parse_ok(form_json({question("a", "text")}));
  json answers = {{"a", "x"}, {"b", "typo"}};
  CHECK(summary(validate_answers(form, answers, ValidationMode::kDraft)) ==
        Issues{"b unknown_question"});
  CHECK(summary(validate_answers(form, answers, ValidationMode::kFinal)) ==
        Issues{"b unknown_question"});
  CHECK(summary(validate_answers(form, json::array(), ValidationMode::kDraft)) == Issues{" type"});
}

TEST_CASE("every failing question is reported together, in form order", "[form][validate]") {
  Form form = parse_ok(form_json({
      question("age", "integer", {{"required", true}, {"constraint", {{"min", 0}}}}),
      question("name", "text", {{"required", true}}),
      question("when", "date"),
      question("kind", "single_choice", {{"choices", choices({"a"})}}),
      question("ok", "consent", {{"required", true}}),
  }));
  json answers = {{"age", -3}, {"when", "yesterday"}, {"kind", "b"}, {"ok", false}, {"x", 1}};
  auto issues = validate_answers(form, answers, ValidationMode::kFinal);
  CHECK(summary(issues) == Issues{"x unknown_question", "age min", "name required", "when type",
                                  "kind choices", "ok consent"});
  for (const auto& i : issues) CHECK_FALSE(i.message.empty());
}
