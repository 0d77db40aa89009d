// list_steps: the walk over a form and its answers in form order that relevance, pruning and
// validation all build on.
#include "satchel/form/steps.h"

#include "question_path.h"
#include "scope.h"

namespace satchel::form {
namespace {

void walk(const std::vector<Question>& questions, detail::Scope& scope, const std::string& prefix,
          bool group_relevant, std::vector<size_t>& instances, std::vector<Step>& out) {
  for (const Question& q : questions) {
    Step step;
    step.question = &q;
    step.path = detail::child_path(prefix, q.id);
    step.instances = instances;
    step.relevant = scope.enter(q, group_relevant);
    step.answer = scope.answer(q);
    out.push_back(step);
    if (!q.is_repeat() || !step.answer || !step.answer->is_array()) continue;
    for (size_t i = 0; i < step.answer->size(); ++i) {
      const nlohmann::json& instance = (*step.answer)[i];
      detail::Scope inner(instance.is_object() ? &instance : nullptr, &scope);
      instances.push_back(i);
      walk(q.questions, inner, detail::instance_path(step.path, i), step.relevant, instances, out);
      instances.pop_back();
    }
  }
}

}  // namespace

std::vector<Step> list_steps(const Form& form, const nlohmann::json& answers) {
  std::vector<Step> steps;
  detail::Scope top(answers.is_object() ? &answers : nullptr, nullptr);
  std::vector<size_t> instances;
  walk(form.questions, top, "", true, instances, steps);
  return steps;
}

std::optional<size_t> next_step(const std::vector<Step>& steps, std::optional<size_t> from) {
  for (size_t i = from ? *from + 1 : 0; i < steps.size(); ++i) {
    if (steps[i].relevant) return i;
  }
  return std::nullopt;
}

std::optional<size_t> previous_step(const std::vector<Step>& steps, size_t from) {
  for (size_t i = std::min(from, steps.size()); i-- > 0;) {
    if (steps[i].relevant) return i;
  }
  return std::nullopt;
}

}  // namespace satchel::form
