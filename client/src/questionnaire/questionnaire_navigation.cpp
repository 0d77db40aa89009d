// Moves over the step list. The only thing list_steps does not give directly is the gate: a
// repeat's entries are followed by "add another entry?", shown when the walk leaves the repeat's
// last entry (not when it moves from one entry to the next).
#include "questionnaire/questionnaire_navigation.h"

#include "questionnaire/questionnaire_paths.h"

namespace satchel::cli {
namespace {

// The index of the last step inside the repeat whose own step is at `repeat_index` (the repeat's
// step itself when it has no entries).
size_t region_end(const std::vector<form::Step>& steps, size_t repeat_index) {
  size_t end = repeat_index;
  const std::string& repeat = steps[repeat_index].path;
  for (size_t i = repeat_index + 1; i < steps.size() && qpath::is_within(steps[i].path, repeat);
       ++i)
    end = i;
  return end;
}

// Going from `from_path` to step `next` (or to the end): the innermost repeat entry left behind
// that is its repeat's last entry gets its gate first.
Position leave_scopes(const std::vector<form::Step>& steps, const nlohmann::json& answers,
                      std::string_view from_path, std::optional<size_t> next) {
  for (const std::string& scope : qpath::enclosing_instances(from_path)) {
    if (next && qpath::is_within(steps[*next].path, scope)) break;
    qpath::Instance entry = qpath::split_instance(scope);
    if (entry.index + 1 == qpath::instance_count(answers, entry.repeat_path))
      return Position::gate(entry.repeat_path);
  }
  return next ? Position::step(steps[*next].path) : Position::end();
}

size_t relevant_up_to(const std::vector<form::Step>& steps, size_t last) {
  size_t n = 0;
  for (size_t i = 0; i <= last && i < steps.size(); ++i) n += steps[i].relevant ? 1u : 0u;
  return n;
}

}  // namespace

std::optional<size_t> find_step(const std::vector<form::Step>& steps, std::string_view path) {
  for (size_t i = 0; i < steps.size(); ++i)
    if (steps[i].path == path) return i;
  return std::nullopt;
}

Position first_position(const std::vector<form::Step>& steps) {
  auto first = form::next_step(steps, std::nullopt);
  return first ? Position::step(steps[*first].path) : Position::end();
}

Position forward_from(const std::vector<form::Step>& steps, const nlohmann::json& answers,
                      size_t index) {
  return leave_scopes(steps, answers, steps[index].path, form::next_step(steps, index));
}

Position past_repeat(const std::vector<form::Step>& steps, const nlohmann::json& answers,
                     std::string_view repeat_path) {
  auto index = find_step(steps, repeat_path);
  if (!index) return first_position(steps);
  return leave_scopes(steps, answers, repeat_path,
                      form::next_step(steps, region_end(steps, *index)));
}

std::optional<Position> entry_start(const std::vector<form::Step>& steps,
                                    std::string_view repeat_path, size_t index) {
  const std::string entry = std::string(repeat_path) + "[" + std::to_string(index) + "]";
  for (const form::Step& s : steps)
    if (s.relevant && qpath::is_within(s.path, entry)) return Position::step(s.path);
  return std::nullopt;
}

std::optional<Position> back_from(const std::vector<form::Step>& steps, const Position& at) {
  std::optional<size_t> previous;
  if (at.kind == Position::Kind::kEnd) {
    previous = form::previous_step(steps, steps.size());
  } else if (auto index = find_step(steps, at.path)) {
    size_t from = at.kind == Position::Kind::kGate ? region_end(steps, *index) + 1 : *index;
    previous = form::previous_step(steps, from);
  }
  if (!previous) return std::nullopt;
  return Position::step(steps[*previous].path);
}

Progress progress(const std::vector<form::Step>& steps, const Position& at) {
  Progress p;
  p.total = relevant_up_to(steps, steps.size());
  p.current = p.total;
  if (at.kind == Position::Kind::kEnd) return p;
  if (auto index = find_step(steps, at.path)) {
    size_t last = at.kind == Position::Kind::kGate ? region_end(steps, *index) : *index;
    p.current = relevant_up_to(steps, last);
  }
  return p;
}

}  // namespace satchel::cli
