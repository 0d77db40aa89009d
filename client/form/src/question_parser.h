// The structure of a form's questions: fields allowed per type, choices, attachment kinds,
// constraints and repeat groups. References between questions are checked afterwards
// (references.h). Private to satchel_form.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "field_reader.h"
#include "satchel/form/form.h"

namespace satchel::form::detail {

// What every question of one form is read against.
struct FormContext {
  std::vector<Language> languages;
  std::string default_language;
  Problems& problems;
  size_t question_count = 0;  // questions read so far, at every depth
};

// Reads a localized text field of `fields` (an object language code -> non-empty string that
// includes the default language and only declared languages).
LocalizedText read_localized(FieldReader& fields, std::string_view key, bool required,
                             const FormContext& ctx);

// Reads the "questions" array `value` found at JSON path `path` ("questions",
// "questions[4].questions"), `depth` repeats deep. Yields one Question per element, even a
// broken one, so that later checks can walk the JSON and the model side by side.
std::vector<Question> read_questions(const nlohmann::json& value, const std::string& path,
                                     int depth, FormContext& ctx);

// Reads a question's "constraint" object for a question of type `type`.
Constraint read_constraint(FieldReader& question, QuestionType type, const FormContext& ctx);

// "question 'q3'", or "question at questions[4]" when the id is unusable.
std::string question_place(const Question& q, const std::string& json_path);

}  // namespace satchel::form::detail
