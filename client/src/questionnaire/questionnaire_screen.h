// The text of the questionnaire's screens: the header (form title, progress, the repeat entries
// the question belongs to), a question with its hint, current answer, menu and what to type,
// validation issues naming their rule, and the help. Builds strings only; the caller writes them
// to the terminal and wipes them (they may show answers).
#pragma once

#include <string>
#include <string_view>

#include "questionnaire/questionnaire_navigation.h"
#include "satchel/form/form.h"
#include "satchel/form/steps.h"
#include "satchel/form/validate.h"

namespace satchel::cli {

// "Title   [3/12]" and, inside repeats, "Household, entry 2 > Child, entry 1", then a rule.
std::string screen_header(const form::Form& f, std::string_view language, const Progress& progress,
                          std::string_view path);

// The question of `step` (not a repeat): label with " *" when required, hint, current answer,
// the numbered menu for choice questions, what to type, and what an empty line does.
std::string question_text(const form::Form& f, const form::Step& step, std::string_view language);

// The label of the question an answer path names ("household[1].age" -> "Age"), or the path.
std::string label_at(const form::Form& f, std::string_view path, std::string_view language);

// "max_length: at most 200 characters"; with `with_place`, prefixed by the question's label and
// path.
std::string issue_text(const form::Form& f, const form::AnswerIssue& issue,
                       std::string_view language, bool with_place);

// The commands reminder shown under every prompt.
std::string commands_line();

// The help screen.
std::string help_text(const form::Form& f);

}  // namespace satchel::cli
