// The interactive questionnaire: one question at a time on the terminal's alternate screen (so
// testimony stays out of scrollback), with choice menus, validation messages naming the rule,
// back and skip, live relevance, repeat groups, and save-as-draft on Ctrl-C or ":save".
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "satchel/crypto/status.h"
#include "satchel/form/form.h"

namespace satchel::cli {

struct QuestionnaireOutcome {
  bool complete = false;   // every relevant question was visited and the answers validate
  bool abandoned = false;  // the person quit without saving anything (":quit")
};

// Runs the questionnaire on the controlling terminal, editing `answers` in place (starting from
// a draft's answers when resuming). Fails if there is no terminal.
Result<QuestionnaireOutcome> run_questionnaire(const form::Form& form, nlohmann::json& answers);

// Shows text on the terminal's alternate screen until Enter is pressed, or writes it to stdout
// when stdout is not a terminal.
void show_private_text(const std::string& text);

}  // namespace satchel::cli
