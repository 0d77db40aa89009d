// Relevance queries and pruning, both read off list_steps.
#include "satchel/form/relevance.h"

#include "json_depth.h"

#include "question_path.h"
#include "satchel/form/steps.h"

namespace satchel::form {

bool is_unanswered(const nlohmann::json* answer) {
  return !answer || answer->is_null() ||
         (answer->is_string() && answer->get_ref<const std::string&>().empty()) ||
         (answer->is_array() && answer->empty());
}

Result<bool> relevant(const Form& form, std::string_view question_path,
                      const nlohmann::json& answers) {
  auto segments = detail::parse_question_path(form, question_path);
  if (!segments.ok()) return segments.error();
  std::string path = detail::render_path(segments.value());
  for (const Step& step : list_steps(form, answers)) {
    if (step.path == path) return step.relevant;
  }
  return make_error(Errc::kInvalidArgument, "question path '" + std::string(question_path) +
                                                "': the answers have no such repeat instance");
}

nlohmann::json prune_irrelevant(const Form& form, const nlohmann::json& answers) {
  // Copying is recursive: answers nested beyond any form's shape are invalid anyway (validation
  // says so) and prune to nothing rather than overflow the stack.
  if (detail::json_deeper_than(answers, detail::kMaxAnswerDepth)) return nlohmann::json::object();
  nlohmann::json pruned = answers;
  for (const Step& step : list_steps(form, answers)) {
    if (step.relevant || !step.answer) continue;
    auto segments = detail::parse_question_path(form, step.path);
    // Inside a repeat already pruned, the parent object is gone: nothing left to do.
    nlohmann::json* parent = segments.ok() ? detail::parent_object(pruned, *segments) : nullptr;
    if (parent) parent->erase(step.question->id);
  }
  return pruned;
}

}  // namespace satchel::form
