// Reads a question's "constraint" object: which rules each type takes, their consistency, and
// the compilation of text patterns (refused here rather than at answer time).
#include <algorithm>
#include <exception>
#include <regex>
#include <vector>

#include "question_parser.h"
#include "text_rules.h"

namespace satchel::form::detail {
namespace {

// Counted repetitions copy their operand ("a{5}" is five states), so bound what a pattern can
// expand to; min_length and max_length are the way to bound lengths.
constexpr size_t kMaxPatternWeight = 1000;

// Matching in libstdc++'s polynomial mode runs a Thompson NFA: time linear in the answer times the
// pattern's size, stack bounded by the pattern, never by the answer (the default backtracking
// matcher recurses once per character and overflows the stack on a few KiB). Back-references
// cannot be matched that way and are refused when compiling.
#if defined(__GLIBCXX__)
constexpr auto kPatternFlags =
    std::regex::ECMAScript | std::regex::nosubs | std::regex_constants::__polynomial;
#else
#error "satchel_form needs libstdc++'s polynomial std::regex mode (see kPatternFlags)"
#endif

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
    c.problem(key, "must be a date \"YYYY-MM-DD\" for a date question, not " + json_excerpt(*v));
    return std::nullopt;
  }
  return v->get<std::string>();
}

// An upper bound on the states a pattern compiles to: every character, class or escape counts 1,
// a group the sum of its contents, and a counted repetition multiplies its operand by its larger
// bound. Saturates at kMaxPatternWeight + 1.
size_t pattern_weight(std::string_view p) {
  constexpr size_t kCap = kMaxPatternWeight + 1;
  struct Group {
    size_t total = 0;
    size_t last = 0;  // weight of the last item, which a quantifier applies to
  };
  std::vector<Group> stack(1);
  auto add = [&](size_t weight) {
    stack.back().last = weight;
    stack.back().total = std::min(kCap, stack.back().total + weight);
  };
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\') {
      ++i;
      add(1);
    } else if (c == '[') {
      while (++i < p.size() && p[i] != ']') i += p[i] == '\\' ? 1 : 0;
      add(1);
    } else if (c == '(') {
      stack.emplace_back();
    } else if (c == ')' && stack.size() > 1) {
      size_t group = stack.back().total;
      stack.pop_back();
      add(group);
    } else if (c == '{' && i + 1 < p.size() && p[i + 1] >= '0' && p[i + 1] <= '9') {
      size_t bound = 0;
      size_t n = 0;
      for (++i; i < p.size() && p[i] != '}'; ++i) {
        if (p[i] == ',') {
          n = 0;
        } else if (p[i] >= '0' && p[i] <= '9') {
          n = std::min(kCap, n * 10 + static_cast<size_t>(p[i] - '0'));
        }
        bound = std::max(bound, n);
      }
      // A count this large is refused whatever it repeats (even an empty group): libstdc++'s
      // regex compiler reads counts into a long without checking for overflow.
      if (bound > kMaxPatternWeight) return kCap;
      Group& g = stack.back();
      size_t grown = std::min(kCap, g.last * std::max<size_t>(bound, 1));
      g.total = std::min(kCap, g.total - g.last + grown);
      g.last = grown;
    } else if (c != '*' && c != '+' && c != '?' && c != '|' && c != '^' && c != '$') {
      add(1);
    }
  }
  size_t weight = 0;
  for (const Group& g : stack) weight = std::min(kCap, weight + g.total);
  return weight;
}

void read_pattern(FieldReader& c, Constraint& out) {
  std::optional<std::string> pattern = c.string("pattern", false);
  if (!pattern) return;
  if (pattern->empty() || code_points(*pattern) > kMaxPatternChars) {
    c.problem("pattern", "must be 1 to " + std::to_string(kMaxPatternChars) + " characters");
    return;
  }
  // Lookahead assertions defeat the polynomial matcher (a nested one is cubic in the answer).
  if (pattern->find("(?=") != std::string::npos || pattern->find("(?!") != std::string::npos) {
    c.problem("pattern",
              "must not use lookahead assertions (?= or (?! (they cannot be matched in "
              "time linear in the answer)");
    return;
  }
  // Back-references cannot be matched by the polynomial matcher, and libstdc++ reads their
  // number into an int without checking for overflow (found by fuzz_form_parse): refused here.
  for (size_t i = 0; i + 1 < pattern->size(); ++i) {
    if ((*pattern)[i] != '\\') continue;
    if ((*pattern)[i + 1] >= '1' && (*pattern)[i + 1] <= '9') {
      c.problem("pattern", "must not use back-references (\\1 to \\9)");
      return;
    }
    ++i;  // the escaped character
  }
  if (pattern_weight(*pattern) > kMaxPatternWeight) {
    c.problem("pattern", "counted repetitions expand it beyond " +
                             std::to_string(kMaxPatternWeight) +
                             " states; bound lengths with min_length/max_length instead");
    return;
  }
  try {
    out.compiled_pattern = std::make_shared<const std::regex>(*pattern, kPatternFlags);
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
