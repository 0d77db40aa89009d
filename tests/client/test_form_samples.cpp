// The sample forms in schema/forms/ load, are fully translated, flag identifying questions, use
// relevance, and accept the example answers beside them in final mode.
#include <catch2/catch_test_macros.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "satchel/form/form.h"
#include "satchel/form/relevance.h"
#include "satchel/form/steps.h"
#include "satchel/form/validate.h"

using namespace satchel;
using namespace satchel::form;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string sample_path(const std::string& name) {
  return std::string(SATCHEL_SCHEMA_DIR) + "/forms/" + name;
}

// Calls `visit` on every question, inside repeats too.
template <class Visit>
void for_each_question(const std::vector<Question>& questions, const Visit& visit) {
  for (const Question& q : questions) {
    visit(q);
    for_each_question(q.questions, visit);
  }
}

// Every localized text of the form, with a description of where it is.
std::vector<std::pair<std::string, const LocalizedText*>> all_texts(const Form& form) {
  std::vector<std::pair<std::string, const LocalizedText*>> texts = {{"title", &form.title}};
  for_each_question(form.questions, [&](const Question& q) {
    texts.emplace_back(q.id + ".label", &q.label);
    if (!q.hint.empty()) texts.emplace_back(q.id + ".hint", &q.hint);
    if (!q.constraint.message.empty()) texts.emplace_back(q.id + ".message", &q.constraint.message);
    for (const Choice& c : q.choices) texts.emplace_back(q.id + "." + c.value, &c.label);
  });
  return texts;
}

}  // namespace

TEST_CASE("the sample forms load and accept their example answers when final", "[form][samples]") {
  for (const std::string name : {"gcm-input", "testimony-intake"}) {
    INFO(name);
    std::string path = sample_path(name + ".json");
    auto form = parse_form(read_file(path), path);
    if (!form.ok()) FAIL(form.error().message);
    CHECK(form->id == name);

    auto answers = nlohmann::json::parse(read_file(sample_path(name + ".answers.json")));
    auto issues = validate_answers(form.value(), answers, ValidationMode::kFinal);
    for (const auto& i : issues)
      UNSCOPED_INFO(i.path << " " << rule_name(i.rule) << ": " << i.message);
    CHECK(issues.empty());
    CHECK(prune_irrelevant(form.value(), answers) == answers);
  }
}

TEST_CASE("each sample flags identifying questions and uses relevance", "[form][samples]") {
  for (const std::string name : {"gcm-input", "testimony-intake"}) {
    INFO(name);
    auto form = parse_form(read_file(sample_path(name + ".json")), name);
    REQUIRE(form.ok());
    int identifying = 0;
    int conditional = 0;
    for_each_question(form->questions, [&](const Question& q) {
      identifying += q.identifying ? 1 : 0;
      conditional += q.relevant ? 1 : 0;
    });
    CHECK(identifying >= 1);
    CHECK(conditional >= 1);
  }
}

TEST_CASE("each sample offers a right-to-left language and is translated throughout",
          "[form][samples]") {
  for (const std::string name : {"gcm-input", "testimony-intake"}) {
    INFO(name);
    auto form = parse_form(read_file(sample_path(name + ".json")), name);
    REQUIRE(form.ok());
    const Language* ar = form->find_language("ar");
    REQUIRE(ar != nullptr);
    CHECK(ar->rtl);
    for (const auto& [where, text] : all_texts(form.value())) {
      for (const Language& language : form->languages) {
        INFO(where << " in " << language.code);
        CHECK(text->count(language.code) == 1);
      }
    }
  }
}

TEST_CASE("testimony intake asks nothing but consent until consent is given", "[form][samples]") {
  auto form = parse_form(read_file(sample_path("testimony-intake.json")), "testimony-intake");
  REQUIRE(form.ok());
  CHECK(form->questions.front().type == QuestionType::kConsent);
  CHECK(form->questions.front().required);
  for (const nlohmann::json& answers :
       {nlohmann::json::object(), nlohmann::json{{"consent", false}}}) {
    auto steps = list_steps(form.value(), answers);
    REQUIRE(next_step(steps, std::nullopt) == 0u);
    CHECK(next_step(steps, 0) == std::nullopt);
  }
  auto refused = validate_answers(form.value(), {{"consent", false}}, ValidationMode::kFinal);
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].rule == Rule::kConsent);
}
