// Where the questionnaire stands and where it goes next. A position is a question's step, the
// "add another entry?" gate after the last entry of a repeat, or the end of the form. Moves are
// computed from a fresh form::list_steps after every answer, so relevance is always current;
// positions are kept as paths because step indices shift when repeat entries come and go.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/form/steps.h"

namespace satchel::cli {

struct Position {
  enum class Kind { kStep, kGate, kEnd };
  Kind kind = Kind::kEnd;
  std::string path;  // the step's path, or the repeat's path for a gate; empty at the end

  static Position step(std::string p) { return {Kind::kStep, std::move(p)}; }
  static Position gate(std::string repeat_path) { return {Kind::kGate, std::move(repeat_path)}; }
  static Position end() { return {Kind::kEnd, {}}; }
};

// The index of the step with this path, if listed.
std::optional<size_t> find_step(const std::vector<form::Step>& steps, std::string_view path);

// The first relevant question, or the end when none applies.
Position first_position(const std::vector<form::Step>& steps);

// Where to go after the step at `index` is answered or passed: the next relevant step, unless
// that leaves the last entry of a repeat, in which case the repeat's gate comes first.
Position forward_from(const std::vector<form::Step>& steps, const nlohmann::json& answers,
                      size_t index);

// Where to go when the person wants no (more) entries in the repeat at `repeat_path`: the first
// relevant step after all its entries, or an enclosing repeat's gate.
Position past_repeat(const std::vector<form::Step>& steps, const nlohmann::json& answers,
                     std::string_view repeat_path);

// The first relevant step of entry `index` of the repeat, if any question of it applies.
std::optional<Position> entry_start(const std::vector<form::Step>& steps,
                                    std::string_view repeat_path, size_t index);

// The previous relevant question; nullopt at the first one.
std::optional<Position> back_from(const std::vector<form::Step>& steps, const Position& at);

struct Progress {
  size_t current = 0;  // 1-based among the relevant steps
  size_t total = 0;    // relevant steps
};
Progress progress(const std::vector<form::Step>& steps, const Position& at);

}  // namespace satchel::cli
