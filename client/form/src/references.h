// The form-wide checks that need every question read first: ids unique at every depth, and
// relevance expressions that only read earlier answers (which is what rules out loops).
// Private to satchel_form.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "field_reader.h"
#include "satchel/form/form.h"

namespace satchel::form::detail {

// Checks ids, then parses each question's "relevant" (read from `questions_json`, which
// read_questions turned into `questions` element by element) into Question::relevant.
void check_ids_and_relevance(std::vector<Question>& questions, const nlohmann::json& questions_json,
                             Problems& problems);

}  // namespace satchel::form::detail
