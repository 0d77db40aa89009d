// Validation of a set of answers against a form (schema/form-format.md, "Answers" and
// "Validation"): every failing question is reported, in form order, with its path, the rule it
// breaks and a message.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/form/form.h"

namespace satchel::form {

enum class ValidationMode {
  kDraft,  // while filling in: shapes and constraints of the answers present
  kFinal,  // before sealing: also required, consent, repeat counts and no irrelevant answers
};

enum class Rule {
  kUnknownQuestion,  // a key that is no question of the form (at that place)
  kType,             // the answer has the wrong JSON shape or is not a valid value of its type
  kSize,             // over the byte limit of its type (4 KiB text, 1 MiB long_text, ...)
  kRequired,         // final: a required relevant question is unanswered
  kConsent,          // final: a required consent was refused (false)
  kNotRelevant,      // final: an answer to a question that does not apply
  kMin,              // constraint.min
  kMax,              // constraint.max
  kMinLength,        // constraint.min_length
  kMaxLength,        // constraint.max_length
  kPattern,          // constraint.pattern
  kChoices,          // a value that is not one of the question's choices, or a repeated one
  kMinChoices,       // constraint.min_choices
  kMaxChoices,       // constraint.max_choices
  kMinCount,         // final: fewer repeat instances than min_count
  kMaxCount,         // final: more repeat instances than max_count
};

// The stable spelling of a rule ("min_length"), as in the format specification.
const char* rule_name(Rule rule);

struct AnswerIssue {
  std::string path;  // "household[2].age"; "" for the answers document as a whole
  Rule rule = Rule::kType;
  std::string message;  // the constraint's own message when it has one, else a built-in one
};

// Every problem with `answers`, in form order; empty means valid in that mode. Constraint
// messages are given in `language` when the form has them in it, else in its default language.
std::vector<AnswerIssue> validate_answers(const Form& form, const nlohmann::json& answers,
                                          ValidationMode mode, std::string_view language = {});

}  // namespace satchel::form
