// Which questions apply to a given set of answers: the `relevant` conditions evaluated in form
// order (schema/form-format.md, "Relevance"), and the pruning of answers that no longer apply
// after the person filling the form went back and changed an earlier answer.
//
// Answers are a JSON object keyed by top-level question id; a repeat's answer is an array of such
// objects keyed by its inner question ids. Paths name one answer: "age", "household[2].age"
// (instance indices count from 0).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "satchel/crypto/status.h"
#include "satchel/form/form.h"

namespace satchel::form {

// True when `answer` counts as unanswered: absent (nullptr), null, "" or [].
bool is_unanswered(const nlohmann::json* answer);

// Whether the question at `question_path` applies, given `answers`. A question inside a repeat is
// relevant only if the repeat is. Fails (kInvalidArgument) for a malformed path, an id that is not
// in the form at that place, or a repeat instance that `answers` does not have.
Result<bool> relevant(const Form& form, std::string_view question_path,
                      const nlohmann::json& answers);

// A copy of `answers` without the answers to questions that are not relevant (whole repeats
// included). Keys that are not questions of the form are kept: validation reports them.
nlohmann::json prune_irrelevant(const Form& form, const nlohmann::json& answers);

}  // namespace satchel::form
