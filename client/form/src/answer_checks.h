// The checks of one answer against its question: its shape for the question's type, the size
// limits, and the question's constraint. Private to satchel_form.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/form/form.h"
#include "satchel/form/validate.h"

namespace satchel::form::detail {

// Where issues go, and the language their constraint messages are given in.
struct IssueSink {
  const Form& form;
  std::string_view language;
  std::vector<AnswerIssue>& issues;

  void add(const std::string& path, Rule rule, std::string message) const;
  // A constraint violation: the constraint's own message if it has one, else `fallback`.
  void violated(const std::string& path, Rule rule, const Constraint& c,
                std::string fallback) const;
};

// Checks a present, non-null answer `a` to `q` at `path`. For a repeat this covers the array and
// the keys of each instance; the questions inside are checked at their own steps.
void check_answer(const Question& q, const nlohmann::json& a, const std::string& path,
                  const IssueSink& sink);

// Reports every key of the answers object `object` that is not one of `questions`.
void check_keys(const std::vector<Question>& questions, const nlohmann::json& object,
                const std::string& path, const IssueSink& sink);

}  // namespace satchel::form::detail
