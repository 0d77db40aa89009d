// Relevance expressions (schema/form-format.md, "Expressions"): a small, typed condition language
// over earlier answers — literals, ${id} references, comparisons, and/or/not, selected() and
// count(). Parsing checks syntax, types and references; evaluation never fails.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/status.h"

namespace satchel::form {

struct Question;

inline constexpr size_t kMaxExpressionChars = 1024;
inline constexpr int kMaxExpressionNesting = 32;

// Says what `${id}` may refer to: the question, or an error whose message explains the refusal
// (missing, itself, later in the form, inside another repeat).
using ReferenceResolver = std::function<Result<const Question*>(const std::string& id)>;

// The answer `${id}` reads at evaluation time, or nullptr when it counts as unanswered (absent,
// null, empty, of the wrong type, or belonging to a question that is not relevant).
using AnswerLookup = std::function<const nlohmann::json*(const std::string& id)>;

namespace detail {
struct Node;
}  // namespace detail

// A parsed, type-checked condition. Cheap to copy (the tree is shared and immutable).
class Expression {
 public:
  // The text as written in the form.
  const std::string& source() const { return source_; }
  // The question ids it reads, each once, in order of first appearance.
  const std::vector<std::string>& references() const { return references_; }
  // Evaluates the condition; an unanswered reference makes every comparison with it false.
  bool holds(const AnswerLookup& answers) const;

 private:
  friend Result<Expression> parse_expression(std::string_view text,
                                             const ReferenceResolver& resolve);
  std::string source_;
  std::vector<std::string> references_;
  std::shared_ptr<const detail::Node> root_;
};

// Parses a condition. Errors (kInvalidArgument) start with "column N: " (counting Unicode code
// points from 1) and name the offending token, type mismatch or reference.
Result<Expression> parse_expression(std::string_view text, const ReferenceResolver& resolve);

}  // namespace satchel::form
