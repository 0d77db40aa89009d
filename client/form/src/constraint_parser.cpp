// Reads a question's "constraint" object: which rules each type takes, their consistency, and
// the compilation of text patterns (refused here rather than at answer time).
#include <algorithm>
#include <exception>

#include "question_parser.h"
#include "text_rules.h"

namespace satchel::form::detail {
namespace {

// Larger counted repetitions ("a{5000}") make std::regex build huge automata; min_length and
// max_length are the way to bound lengths.
constexpr size_t kMaxPatternRepeat = 100;

const std::vector<std::string_view> kAllRules = {
    "min", "max", "min_length", "max_length", "pattern", "min_choices", "max_choices", "message"};

std::vector<std::string_view> rules_of(QuestionType type) {
  switch (type) {
    case QuestionType::kInteger:
    case QuestionType::kDecimal:
    case QuestionType::kDate:
      return {"min", "max", "message"};
    case QuestionType::kText:
      return {"min_length", "max_length", "pattern", "message"};
    case QuestionType::kLongText:
      return {"min_length", "max_length", "message"};
    case QuestionType::kMultipleChoice:
      return {"min_choices", "max_choices", "message"};
    default:
      return {};
  }
}

std::optional<std::string> read_date(FieldReader& c, std::string_view key) {
  const nlohmann::json* v = c.find(key);
  if (!v) return std::nullopt;
  if (!v->is_string() || !is_date(v->get<std::string>())) {
    c.problem(key, "must be a date \"YYYY-MM-DD\" for a date question, not " + v->dump());
    return std::nullopt;
  }
  return v->get<std::string>();
}

// The largest counted repetition {n} or {n,m} in an ECMAScript pattern (0 when there is none).
size_t largest_repeat(std::string_view pattern) {
  size_t largest = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;  // skip the escaped character
      continue;
    }
    if (pattern[i] != '{') continue;
    size_t n = 0;
    for (size_t k = i + 1; k < pattern.size() && k < i + 12; ++k) {
      char ch = pattern[k];
      if (ch >= '0' && ch <= '9') {
        n = n * 10 + static_cast<size_t>(ch - '0');
      } else {
        largest = std::max(largest, n);
        n = 0;
        if (ch != ',') break;
      }
    }
  }
  return largest;
}

void read_pattern(FieldReader& c, Constraint& out) {
  std::optional<std::string> pattern = c.string("pattern", false);
  if (!pattern) return;
  if (pattern->empty() || code_points(*pattern) > kMaxPatternChars) {
    c.problem("pattern", "must be 1 to " + std::to_string(kMaxPatternChars) + " characters");
    return;
  }
  if (largest_repeat(*pattern) > kMaxPatternRepeat) {
    c.problem("pattern", "repeats counted above " + std::to_string(kMaxPatternRepeat) +
                             " are refused; bound the length with min_length/max_length");
    return;
  }
  try {
    out.compiled_pattern = std::make_shared<const std::regex>(*pattern, std::regex::ECMAScript);
    out.pattern = std::move(pattern);
  } catch (const std::exception& e) {
    c.problem("pattern",
              "is not a valid ECMAScript regular expression (" + std::string(e.what()) + ")");
  }
}

template <class T>
void check_order(FieldReader& c, const std::optional<T>& low, const std::optional<T>& high,
                 std::string_view low_name, std::string_view high_name) {
  if (low && high && *low > *high) {
    c.problem(low_name, "is greater than " + std::string(high_name));
  }
}

}  // namespace

Constraint read_constraint(FieldReader& question, QuestionType type, const FormContext& ctx) {
  Constraint out;
  const nlohmann::json* value = question.find("constraint");
  if (!value) return out;
  FieldReader c(*value, question.where(), "constraint.", ctx.problems);
  if (!c.is_object()) return out;
  std::vector<std::string_view> allowed = rules_of(type);
  c.allow_only(allowed, kAllRules,
               "does not apply to this question's type; the rules it takes are listed in "
               "schema/form-format.md");
  if (value->size() == (value->contains("message") ? 1u : 0u)) {
    question.problem("constraint", "has no rule, only a message");
  }
  auto takes = [&](std::string_view rule) {
    return std::find(allowed.begin(), allowed.end(), rule) != allowed.end();
  };
  if (type == QuestionType::kDate) {
    out.min_date = read_date(c, "min");
    out.max_date = read_date(c, "max");
    check_order(c, out.min_date, out.max_date, "min", "max");
  } else if (takes("min")) {
    out.min = c.number("min");
    out.max = c.number("max");
    check_order(c, out.min, out.max, "min", "max");
  }
  if (takes("min_length")) {
    out.min_length = c.count("min_length");
    out.max_length = c.count("max_length");
    check_order(c, out.min_length, out.max_length, "min_length", "max_length");
    if (out.max_length && *out.max_length == 0) c.problem("max_length", "must be at least 1");
  }
  if (takes("pattern")) read_pattern(c, out);
  if (takes("min_choices")) {
    out.min_choices = c.count("min_choices");
    out.max_choices = c.count("max_choices");
    check_order(c, out.min_choices, out.max_choices, "min_choices", "max_choices");
    if (out.max_choices && *out.max_choices == 0) c.problem("max_choices", "must be at least 1");
  }
  out.message = read_localized(c, "message", false, ctx);
  return out;
}

}  // namespace satchel::form::detail
