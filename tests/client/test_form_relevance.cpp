// Relevance applied live: the relevant() query, pruning after going back, not_relevant in final
// mode, and the step list an interactive questionnaire moves through.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include "client/test_form_support.h"
#include "satchel/form/relevance.h"
#include "satchel/form/steps.h"
#include "satchel/form/validate.h"

using namespace satchel;
using namespace satchel::form;
using namespace satchel::form::testing;
using Catch::Matchers::ContainsSubstring;
using nlohmann::json;

namespace {

// Detention questions asked only when someone was detained; a chain: c depends on b on a.
json detention_form() {
  return form_json({
      question("detained", "yes_no", {{"required", true}}),
      question("days", "integer", {{"required", true}, {"relevant", "${detained}"}}),
      question("lawyer", "yes_no", {{"relevant", "${days} > 1"}}),
      question("why_not", "text", {{"relevant", "${lawyer} = false"}}),
      question("witnesses", "repeat",
               {{"relevant", "${detained}"},
                {"questions",
                 {question("role", "text"), question("name", "text", {{"identifying", true}})}}}),
      question("other", "long_text"),
  });
}

std::vector<std::string> paths(const std::vector<Step>& steps, bool relevant_only) {
  std::vector<std::string> out;
  for (const Step& s : steps) {
    if (!relevant_only || s.relevant) out.push_back(s.path);
  }
  return out;
}

}  // namespace

TEST_CASE("relevance follows the answers, through chains of conditions", "[form][relevance]") {
  Form form = parse_ok(detention_form());
  json answers = {{"detained", true}, {"days", 3}, {"lawyer", false}};
  CHECK(relevant(form, "days", answers).value());
  CHECK(relevant(form, "why_not", answers).value());
  answers["detained"] = false;
  // days no longer applies, so its answer no longer counts: lawyer and why_not fall with it.
  CHECK_FALSE(relevant(form, "days", answers).value());
  CHECK_FALSE(relevant(form, "lawyer", answers).value());
  CHECK_FALSE(relevant(form, "why_not", answers).value());
  CHECK(relevant(form, "other", answers).value());
}

TEST_CASE("the relevant query refuses paths that name nothing", "[form][relevance]") {
  Form form = parse_ok(detention_form());
  json answers = {{"detained", true}, {"witnesses", {{{"role", "cellmate"}}}}};
  CHECK(relevant(form, "witnesses[0].name", answers).value());
  CHECK_THAT(relevant(form, "nope", answers).error().message,
             ContainsSubstring("no question 'nope'"));
  CHECK_THAT(relevant(form, "name", answers).error().message,
             ContainsSubstring("no question 'name'"));
  CHECK_THAT(relevant(form, "witnesses.name", answers).error().message,
             ContainsSubstring("must be a repeat followed by [index]"));
  CHECK_THAT(relevant(form, "witnesses[x].name", answers).error().message,
             ContainsSubstring("malformed instance index"));
  CHECK_THAT(relevant(form, "witnesses[3].name", answers).error().message,
             ContainsSubstring("no such repeat instance"));
  CHECK_THAT(relevant(form, "days[0]", answers).error().message,
             ContainsSubstring("ends with an instance index"));
}

TEST_CASE("answers that no longer apply are an error when final and are pruned",
          "[form][relevance]") {
  Form form = parse_ok(detention_form());
  // The person answered the detention questions, then went back and changed the first answer.
  json answers = {{"detained", false},
                  {"days", 3},
                  {"lawyer", false},
                  {"why_not", "refused"},
                  {"witnesses", {{{"role", "guard"}, {"name", "X"}}}},
                  {"other", "..."},
                  {"typo", 1}};
  auto issues = validate_answers(form, answers, ValidationMode::kFinal);
  std::vector<std::string> got;
  for (const auto& i : issues) got.push_back(i.path + " " + rule_name(i.rule));
  CHECK(got == std::vector<std::string>{"typo unknown_question", "days not_relevant",
                                        "lawyer not_relevant", "why_not not_relevant",
                                        "witnesses not_relevant"});
  CHECK(validate_answers(form, answers, ValidationMode::kDraft).size() == 1);  // only the typo

  json pruned = prune_irrelevant(form, answers);
  CHECK(pruned == json{{"detained", false}, {"other", "..."}, {"typo", 1}});
  CHECK(prune_irrelevant(form, pruned) == pruned);
  pruned.erase("typo");
  CHECK(validate_answers(form, pruned, ValidationMode::kFinal).empty());
}

TEST_CASE("pruning reaches inside repeat instances", "[form][relevance]") {
  Form form = parse_ok(form_json({question(
      "people", "repeat",
      {{"questions",
        {question("known", "yes_no"),
         question("name", "text", {{"relevant", "${known}"}, {"identifying", true}})}}})}));
  json answers = {
      {"people", {{{"known", true}, {"name", "A"}}, {{"known", false}, {"name", "B"}}}}};
  CHECK(prune_irrelevant(form, answers) ==
        json{{"people", {{{"known", true}, {"name", "A"}}, {{"known", false}}}}});
}

TEST_CASE("steps list every question in order and skip what does not apply", "[form][steps]") {
  Form form = parse_ok(detention_form());
  json answers = {
      {"detained", true}, {"days", 1}, {"witnesses", {{{"role", "a"}}, {{"role", "b"}}}}};
  auto steps = list_steps(form, answers);
  CHECK(paths(steps, false) == std::vector<std::string>{"detained", "days", "lawyer", "why_not",
                                                        "witnesses", "witnesses[0].role",
                                                        "witnesses[0].name", "witnesses[1].role",
                                                        "witnesses[1].name", "other"});
  CHECK(paths(steps, true) == std::vector<std::string>{"detained", "days", "witnesses",
                                                       "witnesses[0].role", "witnesses[0].name",
                                                       "witnesses[1].role", "witnesses[1].name",
                                                       "other"});
  CHECK(steps[7].instances == std::vector<size_t>{1});
  CHECK(steps[7].question == form.find_question("role"));
  REQUIRE(steps[7].answer != nullptr);
  CHECK(*steps[7].answer == "b");
  CHECK(steps[2].answer == nullptr);

  // Next and back skip lawyer and why_not (days is 1).
  CHECK(next_step(steps, std::nullopt) == 0u);
  CHECK(next_step(steps, 1) == 4u);
  CHECK(previous_step(steps, 4) == 1u);
  CHECK(previous_step(steps, 0) == std::nullopt);
  CHECK(next_step(steps, 9) == std::nullopt);
}

TEST_CASE("a step list recomputed after an answer reflects it", "[form][steps]") {
  Form form = parse_ok(detention_form());
  json answers = {{"detained", false}};
  auto before = list_steps(form, answers);
  CHECK(next_step(before, 0) == 5u);  // straight to "other"
  answers["detained"] = true;
  auto after = list_steps(form, answers);
  CHECK(next_step(after, 0) == 1u);  // days now applies
  CHECK(after[4].path == "witnesses");
  CHECK(after[4].relevant);  // the group step, where a UI offers to add an instance
}
