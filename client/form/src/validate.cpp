// validate_answers: walks the steps of the form over the answers and applies, per mode, the
// answer checks (answer_checks.cpp) and the rules that depend on relevance and completeness.
#include "satchel/form/validate.h"

#include "json_depth.h"

#include <optional>

#include "answer_checks.h"
#include "satchel/form/relevance.h"
#include "satchel/form/steps.h"

namespace satchel::form {
namespace {

// Final mode only: required, consent and repeat counts of a relevant question.
void check_complete(const Step& step, const detail::IssueSink& sink) {
  const Question& q = *step.question;
  if (q.is_repeat()) {
    size_t count = step.answer && step.answer->is_array() ? step.answer->size() : 0;
    if (q.min_count && count < *q.min_count) {
      sink.add(step.path, Rule::kMinCount,
               "needs at least " + std::to_string(*q.min_count) + " entries, has " +
                   std::to_string(count));
    }
    if (q.max_count && count > *q.max_count) {
      sink.add(step.path, Rule::kMaxCount,
               "allows at most " + std::to_string(*q.max_count) + " entries, has " +
                   std::to_string(count));
    }
    return;
  }
  if (!q.required) return;
  if (is_unanswered(step.answer)) {
    sink.add(step.path, Rule::kRequired, "an answer is required");
  } else if (q.type == QuestionType::kConsent && step.answer->is_boolean() &&
             !step.answer->get<bool>()) {
    sink.add(step.path, Rule::kConsent, "consent was not given; the form cannot be finalized");
  }
}

}  // namespace

const char* rule_name(Rule rule) {
  switch (rule) {
    case Rule::kUnknownQuestion:
      return "unknown_question";
    case Rule::kType:
      return "type";
    case Rule::kSize:
      return "size";
    case Rule::kRequired:
      return "required";
    case Rule::kConsent:
      return "consent";
    case Rule::kNotRelevant:
      return "not_relevant";
    case Rule::kMin:
      return "min";
    case Rule::kMax:
      return "max";
    case Rule::kMinLength:
      return "min_length";
    case Rule::kMaxLength:
      return "max_length";
    case Rule::kPattern:
      return "pattern";
    case Rule::kChoices:
      return "choices";
    case Rule::kMinChoices:
      return "min_choices";
    case Rule::kMaxChoices:
      return "max_choices";
    case Rule::kMinCount:
      return "min_count";
    case Rule::kMaxCount:
      return "max_count";
  }
  return "unknown";
}

std::vector<AnswerIssue> validate_answers(const Form& form, const nlohmann::json& answers,
                                          ValidationMode mode, std::string_view language) {
  std::vector<AnswerIssue> issues;
  detail::IssueSink sink{form, language, issues};
  if (!answers.is_object()) {
    sink.add("", Rule::kType, "the answers must be a JSON object keyed by question id");
    return issues;
  }
  if (detail::json_deeper_than(answers, detail::kMaxAnswerDepth)) {
    sink.add("", Rule::kSize,
             "the answers are nested more than " + std::to_string(detail::kMaxAnswerDepth) +
                 " levels deep");
    return issues;
  }
  const bool final_mode = mode == ValidationMode::kFinal;
  detail::check_keys(form.questions, answers, "", sink);
  // Steps nested deeper than a repeat already reported as not relevant add nothing new.
  std::optional<size_t> skip_deeper_than;
  for (const Step& step : list_steps(form, answers)) {
    size_t depth = step.instances.size();
    if (skip_deeper_than && depth > *skip_deeper_than) continue;
    skip_deeper_than.reset();
    if (final_mode && !step.relevant) {
      if (!is_unanswered(step.answer)) {
        sink.add(step.path, Rule::kNotRelevant,
                 "answered, but the question does not apply given the earlier answers");
        skip_deeper_than = depth;
      }
      continue;
    }
    if (!is_unanswered(step.answer))
      detail::check_answer(*step.question, *step.answer, step.path, sink);
    if (final_mode) check_complete(step, sink);
  }
  return issues;
}

}  // namespace satchel::form
