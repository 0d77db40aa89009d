// The questionnaire as a flat, ordered list of steps for an interactive front end: each question
// once, each question of a repeat once per instance present in the answers, with relevance
// applied. A front end recomputes the list after every answer and moves with next_step and
// previous_step, which skip the steps that do not apply.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "satchel/form/form.h"

namespace satchel::form {

struct Step {
  const Question* question = nullptr;  // points into the Form given to list_steps
  std::string path;                    // "household[2].age"; a repeat's own step is "household"
  std::vector<size_t> instances;       // instance index in each enclosing repeat, outermost first
  bool relevant = false;               // the question applies, given the answers
  const nlohmann::json* answer = nullptr;  // into the answers given; nullptr if absent or null
};

// Every step in form order. A repeat's step comes first, then for each instance of its answer
// array the steps of its questions. Pointers stay valid while the form and answers are unchanged.
std::vector<Step> list_steps(const Form& form, const nlohmann::json& answers);

// The first relevant step after `from` (or from the start when `from` is nullopt), if any.
std::optional<size_t> next_step(const std::vector<Step>& steps, std::optional<size_t> from);

// The last relevant step before `from`, if any.
std::optional<size_t> previous_step(const std::vector<Step>& steps, size_t from);

}  // namespace satchel::form
