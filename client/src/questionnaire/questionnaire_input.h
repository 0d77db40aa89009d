// What typed text means for each question type: parsing it into the JSON answer the form engine
// expects (or a message saying what to type instead), and showing an answer or the expected input
// back to the person. No terminal here: these are pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "satchel/crypto/status.h"
#include "satchel/form/form.h"

namespace satchel::cli {

// `s` without leading and trailing spaces.
std::string_view trim(std::string_view s);

// "y"/"yes" -> true, "n"/"no" -> false (any case); nullopt for anything else.
std::optional<bool> parse_yes_no(std::string_view typed);

// The answer that `typed` (non-empty) gives to `q`, whose type is neither location, attachment
// nor repeat. Fails (kInvalidArgument) with a message saying what to type instead. Constraints
// are not checked here: validate_answers does that and names the rule.
Result<nlohmann::json> parse_answer(const form::Question& q, std::string_view typed);

// A location answer {place, lat, lon} from a place name (non-empty) and optional "lat,lon".
Result<nlohmann::json> parse_location(std::string_view place, std::string_view coordinates);

// The answer as the person should see it: choice labels rather than values, "yes"/"no",
// "N entries"; long text cut to `max_chars` code points.
std::string describe_answer(const form::Form& f, const form::Question& q,
                            const nlohmann::json& answer, std::string_view language,
                            size_t max_chars = 600);

// "1 entry", "3 entries".
std::string entries_text(size_t n);

// One line saying what to type for `q`, with the limits its constraint sets.
std::string input_instructions(const form::Question& q);

}  // namespace satchel::cli
