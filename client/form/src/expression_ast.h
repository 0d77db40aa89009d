// The syntax tree of a relevance expression, shared by the parser (which builds and type-checks
// it) and the evaluator. Private to satchel_form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "satchel/form/form.h"

namespace satchel::form::detail {

// Static types. kOpaque is a reference that only count() (and selected()) may read: repeats,
// multiple_choice, location and attachment answers.
enum class ValueType { kBoolean, kNumber, kString, kOpaque };

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };

// A number that compares exactly when both sides are integers.
struct Number {
  bool integral = true;
  int64_t i = 0;
  double d = 0;
};

struct Node {
  enum class Kind { kBool, kNumber, kString, kRef, kCount, kSelected, kCompare, kAnd, kOr, kNot };
  Kind kind = Kind::kBool;
  ValueType type = ValueType::kBoolean;
  size_t offset = 0;                            // byte offset in the source, for error messages
  bool boolean = false;                         // kBool
  Number number;                                // kNumber
  std::string text;                             // kString: the value; kRef/kCount/kSelected: the id
  std::string choice;                           // kSelected: the choice value
  QuestionType ref_type = QuestionType::kText;  // kRef, kCount, kSelected
  CompareOp op = CompareOp::kEq;                // kCompare
  std::vector<Node> children;                   // kCompare: 2; kAnd/kOr: 2 or more; kNot: 1
};

// The static type a bare reference to a question of this type has.
ValueType value_type_of(QuestionType type);

}  // namespace satchel::form::detail
