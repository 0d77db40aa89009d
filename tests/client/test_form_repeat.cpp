// Repeat groups: instance counts, paths of inner answers, per-instance checks, nesting, and the
// references an inner question may make.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include "client/test_form_support.h"
#include "satchel/form/relevance.h"
#include "satchel/form/validate.h"

using namespace satchel;
using namespace satchel::form;
using namespace satchel::form::testing;
using Catch::Matchers::ContainsSubstring;
using nlohmann::json;

namespace {

std::vector<std::string> summary(const std::vector<AnswerIssue>& issues) {
  std::vector<std::string> out;
  for (const auto& i : issues) out.push_back(i.path + " " + rule_name(i.rule));
  return out;
}

using Issues = std::vector<std::string>;

// A household survey: who lives there, and for each adult their children.
json household_form() {
  return form_json({
      question("adults_only", "yes_no"),
      question(
          "household", "repeat",
          {{"min_count", 1},
           {"max_count", 3},
           {"questions",
            {question("role", "single_choice",
                      {{"required", true}, {"choices", choices({"parent", "child"})}}),
             question("age", "integer",
                      {{"required", true},
                       {"constraint", {{"min", 0}, {"max", 120}}},
                       {"relevant", "${role} = 'parent' or not ${adults_only}"}}),
             question(
                 "children", "repeat",
                 {{"relevant", "${role} = 'parent'"},
                  {"questions",
                   {question("child_name", "text", {{"identifying", true}}),
                    question("child_age", "integer",
                             {{"relevant", "${age} > 0"}, {"constraint", {{"max", 17}}}})}}})}}}),
      question("summary", "text", {{"relevant", "count(${household}) > 1"}}),
  });
}

}  // namespace

TEST_CASE("repeat counts are checked in final mode only", "[form][repeat]") {
  Form form = parse_ok(household_form());
  json none = {{"household", json::array()}};
  CHECK(summary(validate_answers(form, none, ValidationMode::kFinal)) ==
        Issues{"household min_count"});
  CHECK(validate_answers(form, none, ValidationMode::kDraft).empty());
  json four = {{"household", json::array()}};
  for (int i = 0; i < 4; ++i) four["household"].push_back({{"role", "child"}, {"age", 5}});
  CHECK(summary(validate_answers(form, four, ValidationMode::kFinal)) ==
        Issues{"household max_count"});
  CHECK(summary(validate_answers(form, json::object(), ValidationMode::kFinal)) ==
        Issues{"household min_count"});
}

TEST_CASE("inner answers are checked per instance and named by path", "[form][repeat]") {
  Form form = parse_ok(household_form());
  json answers = {{"household",
                   {{{"role", "parent"},
                     {"age", 40},
                     {"children", {{{"child_name", "A"}, {"child_age", 30}}, {{"child_age", 4}}}}},
                    {{"role", "grandparent"}, {"age", 130}},
                    {{"age", 20}, {"nickname", "x"}},
                    "not an object"}}};
  auto issues = validate_answers(form, answers, ValidationMode::kFinal);
  CHECK(summary(issues) == Issues{"household[2].nickname unknown_question", "household[3] type",
                                  "household max_count", "household[0].children[0].child_age max",
                                  "household[1].role choices", "household[1].age max",
                                  "household[2].role required", "household[3].role required",
                                  "household[3].age required"});
}

TEST_CASE("inner questions read earlier siblings of their own instance", "[form][repeat]") {
  Form form = parse_ok(household_form());
  json answers = {{"adults_only", true},
                  {"household", {{{"role", "parent"}, {"age", 40}}, {{"role", "child"}}}}};
  CHECK(relevant(form, "household[0].age", answers).value());
  CHECK_FALSE(relevant(form, "household[1].age", answers).value());
  CHECK(relevant(form, "household[0].children", answers).value());
  CHECK_FALSE(relevant(form, "household[1].children", answers).value());
  // A top-level answer read from inside a repeat: with adults_only false, everyone's age applies.
  answers["adults_only"] = false;
  CHECK(relevant(form, "household[1].age", answers).value());
}

TEST_CASE("a nested repeat reads its enclosing instance", "[form][repeat]") {
  Form form = parse_ok(household_form());
  json answers = {{"household",
                   {{{"role", "parent"}, {"age", 40}, {"children", {{{"child_name", "A"}}}}},
                    {{"role", "parent"}, {"age", 0}, {"children", {{{"child_name", "B"}}}}}}}};
  CHECK(relevant(form, "household[0].children[0].child_age", answers).value());
  CHECK_FALSE(relevant(form, "household[1].children[0].child_age", answers).value());
  CHECK(relevant(form, "summary", answers).value());
}

TEST_CASE("an inner question of one instance is not readable from outside", "[form][repeat]") {
  json outside = household_form();
  outside["questions"][2]["relevant"] = "${age} > 18";
  CHECK_THAT(parse_error(outside),
             ContainsSubstring("question 'summary': relevant: column 1: ${age} is inside repeat "
                               "'household', which does not contain this question; use "
                               "count(${household})"));
  json sibling_repeat =
      form_json({question("a", "repeat", {{"questions", {question("x", "integer")}}}),
                 question("b", "repeat",
                          {{"questions", {question("y", "text", {{"relevant", "${x} > 1"}})}}})});
  CHECK_THAT(parse_error(sibling_repeat), ContainsSubstring("${x} is inside repeat 'a'"));
  json later_sibling = form_json({question(
      "r", "repeat",
      {{"questions",
        {question("x", "text", {{"relevant", "${y} = 1"}}), question("y", "integer")}}})});
  CHECK_THAT(parse_error(later_sibling), ContainsSubstring("${y} comes later"));
  json own_repeat = form_json({question(
      "r", "repeat", {{"questions", {question("x", "text", {{"relevant", "count(${r}) > 1"}})}}})});
  CHECK_THAT(parse_error(own_repeat), ContainsSubstring("${r} is the repeat that contains this"));
}

TEST_CASE("questions inside a repeat that does not apply do not apply", "[form][repeat]") {
  Form form = parse_ok(household_form());
  json answers = {
      {"household", {{{"role", "child"}, {"age", 5}, {"children", {{{"child_name", "C"}}}}}}}};
  CHECK_FALSE(relevant(form, "household[0].children", answers).value());
  CHECK_FALSE(relevant(form, "household[0].children[0].child_name", answers).value());
  // Final mode reports the repeat once, not each answer inside it.
  CHECK(summary(validate_answers(form, answers, ValidationMode::kFinal)) ==
        Issues{"household[0].children not_relevant"});
}
