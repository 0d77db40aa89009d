// libFuzzer target for the form engine (client/form/): the input up to its first 0x00 byte is a
// form definition, up to the next one an answers document, and the rest a relevance expression.
// A form that parses goes through validation (both modes, every language), pruning, relevance and
// the step walk; the whole input is also parsed as a form on its own. An exception escaping
// satchel_form is a crash (std::terminate), like any sanitizer report.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "satchel/form/expression.h"
#include "satchel/form/form.h"
#include "satchel/form/relevance.h"
#include "satchel/form/steps.h"
#include "satchel/form/validate.h"

namespace {

using namespace satchel;
using namespace satchel::form;

constexpr std::string_view kSource = "fuzz.json";
// relevant() lists every step again, so only the first steps are cross-checked with it.
constexpr size_t kMaxRelevanceQueries = 32;

// A refused form is kInvalidArgument, its message led by the source name (form.h).
void check_refusal(const Result<Form>& r) {
  if (r.ok()) return;
  SATCHEL_FUZZ_CHECK(r.code() == Errc::kInvalidArgument,
                     "a bad form was refused with another code");
  SATCHEL_FUZZ_CHECK(r.error().message.starts_with(std::string(kSource) + ": "),
                     "a form refusal does not start with the source name");
}

// What parse_form promises of a Form that exists: limits, unique ids reachable by find_question,
// a default language with every text present in it.
void check_questions(const Form& form, const std::vector<Question>& questions, int repeat_depth,
                     size_t& count) {
  for (const Question& q : questions) {
    ++count;
    SATCHEL_FUZZ_CHECK(form.find_question(q.id) == &q, "a question id is not unique in the form");
    SATCHEL_FUZZ_CHECK(q.label.count(form.default_language) == 1,
                       "a question label lacks the default language");
    SATCHEL_FUZZ_CHECK(
        q.constraint.pattern.has_value() == (q.constraint.compiled_pattern != nullptr),
        "a pattern and its compiled form disagree");
    if (q.is_repeat()) {
      SATCHEL_FUZZ_CHECK(repeat_depth < kMaxRepeatDepth, "repeats nest deeper than the limit");
      SATCHEL_FUZZ_CHECK(!q.questions.empty(), "a repeat has no questions");
      check_questions(form, q.questions, repeat_depth + 1, count);
    }
  }
}

void check_form_model(const Form& form, std::string_view text) {
  SATCHEL_FUZZ_CHECK(form.source_text == text, "source_text differs from the parsed text");
  SATCHEL_FUZZ_CHECK(form.find_language(form.default_language) != nullptr,
                     "the default language is not declared");
  SATCHEL_FUZZ_CHECK(form.title.count(form.default_language) == 1,
                     "the title lacks the default language");
  SATCHEL_FUZZ_CHECK(!form.questions.empty(), "a parsed form has no questions");
  size_t count = 0;
  check_questions(form, form.questions, 0, count);
  SATCHEL_FUZZ_CHECK(count <= kMaxQuestions, "a parsed form has more questions than the limit");
}

Result<Form> parse_checked(std::string_view text) {
  auto form = parse_form(text, std::string(kSource));
  check_refusal(form);
  if (form.ok()) check_form_model(*form, text);
  return form;
}

bool is_final_only(Rule rule) {
  return rule == Rule::kRequired || rule == Rule::kConsent || rule == Rule::kNotRelevant ||
         rule == Rule::kMinCount || rule == Rule::kMaxCount;
}

std::vector<AnswerIssue> validate_checked(const Form& form, const nlohmann::json& answers,
                                          ValidationMode mode, std::string_view language) {
  auto issues = validate_answers(form, answers, mode, language);
  for (const AnswerIssue& issue : issues) {
    SATCHEL_FUZZ_CHECK(std::string_view(rule_name(issue.rule)) != "unknown",
                       "an issue carries a rule without a name");
    SATCHEL_FUZZ_CHECK(mode == ValidationMode::kFinal || !is_final_only(issue.rule),
                       "draft validation reported a final-only rule");
    SATCHEL_FUZZ_CHECK(!issue.message.empty(), "an issue has no message");
  }
  return issues;
}

// next_step and previous_step visit exactly the relevant steps, in opposite orders.
void check_walk(const std::vector<Step>& steps) {
  std::vector<size_t> relevant;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    SATCHEL_FUZZ_CHECK(s.question != nullptr && !s.path.empty(), "a step has no question or path");
    SATCHEL_FUZZ_CHECK(s.answer == nullptr || !s.answer->is_null(), "a step answer is null");
    if (s.relevant) relevant.push_back(i);
  }
  std::vector<size_t> forward;
  for (auto at = next_step(steps, std::nullopt); at; at = next_step(steps, *at)) {
    SATCHEL_FUZZ_CHECK(forward.size() < steps.size(), "next_step does not reach the end");
    SATCHEL_FUZZ_CHECK(forward.empty() || *at > forward.back(), "next_step went backwards");
    forward.push_back(*at);
  }
  SATCHEL_FUZZ_CHECK(forward == relevant, "next_step skips a relevant step or lands on another");
  std::vector<size_t> backward;
  for (auto at = previous_step(steps, steps.size()); at; at = previous_step(steps, *at)) {
    SATCHEL_FUZZ_CHECK(backward.size() < steps.size(), "previous_step does not reach the start");
    backward.push_back(*at);
  }
  SATCHEL_FUZZ_CHECK(std::vector<size_t>(backward.rbegin(), backward.rend()) == relevant,
                     "previous_step does not retrace next_step");
  SATCHEL_FUZZ_CHECK(!next_step(steps, steps.size()) && !previous_step(steps, 0),
                     "a step was found past either end");
}

void check_answers(const Form& form, const nlohmann::json& answers) {
  const std::vector<Step> steps = list_steps(form, answers);
  check_walk(steps);
  for (size_t i = 0; i < steps.size() && i < kMaxRelevanceQueries; ++i) {
    auto r = relevant(form, steps[i].path, answers);
    SATCHEL_FUZZ_CHECK(r.ok() && *r == steps[i].relevant,
                       "relevant() disagrees with list_steps for a step's own path");
  }

  // Constraint messages fall back to the default language: any code, declared or not, is asked.
  std::vector<std::string> languages = {"", "zz-Fuzz"};
  for (const Language& l : form.languages) languages.push_back(l.code);
  validate_checked(form, answers, ValidationMode::kDraft, "");
  for (const std::string& language : languages) {
    validate_checked(form, answers, ValidationMode::kFinal, language);
  }

  // Pruned answers keep nothing final validation calls not relevant, and prune to themselves.
  const nlohmann::json pruned = prune_irrelevant(form, answers);
  SATCHEL_FUZZ_CHECK(prune_irrelevant(form, pruned) == pruned, "pruning twice removes more");
  for (const AnswerIssue& issue : validate_checked(form, pruned, ValidationMode::kFinal, "")) {
    SATCHEL_FUZZ_CHECK(issue.rule != Rule::kNotRelevant,
                       "a pruned answer set has irrelevant answers");
  }
  check_walk(list_steps(form, pruned));
}

// The expression segment, against the form's questions (any of them: the form's own rule of
// "earlier only" is not the parser's business) or, without a form, against none; with a form,
// the same text as a question path too.
void check_expression(std::string_view text, const Form* form, const nlohmann::json& answers) {
  if (form) {
    auto r = relevant(*form, text, answers);
    SATCHEL_FUZZ_CHECK(r.ok() || r.code() == Errc::kInvalidArgument,
                       "a bad question path was refused with another code");
  }
  ReferenceResolver resolve = [form](const std::string& id) -> Result<const Question*> {
    const Question* q = form ? form->find_question(id) : nullptr;
    if (!q) return make_error(Errc::kInvalidArgument, "${" + id + "} is not a question");
    return q;
  };
  auto e = parse_expression(text, resolve);
  if (!e) {
    // expression.h promises "column N: " on every error; the length check, which comes before
    // any token is read, is the one exception (reported, and accepted here).
    const bool too_long = e.error().message.starts_with("longer than ");
    SATCHEL_FUZZ_CHECK(e.code() == Errc::kInvalidArgument &&
                           (e.error().message.starts_with("column ") || too_long),
                       "an expression refusal does not name its column");
    return;
  }
  SATCHEL_FUZZ_CHECK(e->source() == text, "an expression does not keep its source");
  for (const std::string& id : e->references()) {
    SATCHEL_FUZZ_CHECK(form && form->find_question(id), "an expression refers to no question");
  }
  (void)e->holds([&answers](const std::string& id) -> const nlohmann::json* {
    if (!answers.is_object()) return nullptr;
    auto it = answers.find(id);
    return it == answers.end() || is_unanswered(&*it) ? nullptr : &*it;
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t form_end = std::min(input.find('\0'), input.size());
  const std::string_view form_text = input.substr(0, form_end);
  const std::string_view rest =
      form_end < input.size() ? input.substr(form_end + 1) : std::string_view();
  const size_t answers_end = std::min(rest.find('\0'), rest.size());
  const std::string_view answers_text = rest.substr(0, answers_end);
  const std::optional<std::string_view> expression =
      answers_end < rest.size() ? std::optional(rest.substr(answers_end + 1)) : std::nullopt;

  // Answers are read the way the client reads them; what is not JSON becomes no answers.
  nlohmann::json answers = nlohmann::json::parse(answers_text, nullptr, false);
  if (answers.is_discarded()) answers = nlohmann::json::object();

  auto form = parse_checked(form_text);
  if (form) check_answers(*form, answers);
  if (expression) check_expression(*expression, form ? &*form : nullptr, answers);
  if (form_end < input.size()) (void)parse_checked(input);
  return 0;
}
