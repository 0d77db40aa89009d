// Evaluation of a parsed relevance expression against answers. Two-valued: a comparison that
// reads an unanswered question is false, a bare unanswered yes_no is false, and `not` simply
// negates. The parser has already checked types, so a mismatch here means a malformed answer,
// which reads as unanswered.
#include <nlohmann/json.hpp>
#include <string_view>

#include "expression_ast.h"
#include "satchel/form/expression.h"

namespace satchel::form {
namespace detail {
namespace {

struct Value {
  enum class Kind { kUnanswered, kBoolean, kNumber, kString };
  Kind kind = Kind::kUnanswered;
  bool boolean = false;
  Number number;
  std::string_view text;
};

Value boolean(bool b) {
  Value v;
  v.kind = Value::Kind::kBoolean;
  v.boolean = b;
  return v;
}

Value number(Number n) {
  Value v;
  v.kind = Value::Kind::kNumber;
  v.number = n;
  return v;
}

Value integer(int64_t i) {
  return number(Number{true, i, static_cast<double>(i)});
}

Value string(std::string_view s) {
  Value v;
  v.kind = Value::Kind::kString;
  v.text = s;
  return v;
}

// The value of an answer as the expression sees it, by the type of its question.
Value answer_value(QuestionType type, const nlohmann::json& a) {
  switch (value_type_of(type)) {
    case ValueType::kString:
      if (a.is_string()) return string(a.get_ref<const std::string&>());
      break;
    case ValueType::kBoolean:
      if (a.is_boolean()) return boolean(a.get<bool>());
      break;
    case ValueType::kNumber:
      if (a.is_number_integer() && a.is_number_unsigned() && a.get<uint64_t>() > INT64_MAX) {
        return number(Number{false, 0, a.get<double>()});
      }
      if (a.is_number_integer()) return integer(a.get<int64_t>());
      if (a.is_number_float() && type == QuestionType::kDecimal) {
        return number(Number{false, 0, a.get<double>()});
      }
      break;
    case ValueType::kOpaque:
      break;
  }
  return {};
}

template <class T>
bool ordered(CompareOp op, const T& a, const T& b) {
  switch (op) {
    case CompareOp::kEq:
      return a == b;
    case CompareOp::kNe:
      return a != b;
    case CompareOp::kLt:
      return a < b;
    case CompareOp::kLe:
      return a <= b;
    case CompareOp::kGt:
      return a > b;
    case CompareOp::kGe:
      return a >= b;
  }
  return false;
}

bool compare(CompareOp op, const Value& a, const Value& b) {
  if (a.kind == Value::Kind::kUnanswered || b.kind != a.kind) return false;
  switch (a.kind) {
    case Value::Kind::kBoolean:
      return ordered(op, a.boolean, b.boolean);
    case Value::Kind::kString:
      return ordered(op, a.text, b.text);
    case Value::Kind::kNumber:
      if (a.number.integral && b.number.integral) return ordered(op, a.number.i, b.number.i);
      return ordered(op, a.number.d, b.number.d);
    case Value::Kind::kUnanswered:
      break;
  }
  return false;
}

bool truthy(const Value& v) {
  return v.kind == Value::Kind::kBoolean && v.boolean;
}

int64_t count_of(QuestionType type, const nlohmann::json* a) {
  if (!a) return 0;
  if (type == QuestionType::kMultipleChoice || type == QuestionType::kRepeat) {
    return a->is_array() ? static_cast<int64_t>(a->size()) : 0;
  }
  return 1;
}

bool selected(const Node& n, const nlohmann::json* a) {
  if (!a) return false;
  if (a->is_string()) return a->get_ref<const std::string&>() == n.choice;
  if (!a->is_array()) return false;
  for (const auto& item : *a) {
    if (item.is_string() && item.get_ref<const std::string&>() == n.choice) return true;
  }
  return false;
}

Value evaluate(const Node& n, const AnswerLookup& answers) {
  switch (n.kind) {
    case Node::Kind::kBool:
      return boolean(n.boolean);
    case Node::Kind::kNumber:
      return number(n.number);
    case Node::Kind::kString:
      return string(n.text);
    case Node::Kind::kRef: {
      const nlohmann::json* a = answers(n.text);
      return a ? answer_value(n.ref_type, *a) : Value{};
    }
    case Node::Kind::kCount:
      return integer(count_of(n.ref_type, answers(n.text)));
    case Node::Kind::kSelected:
      return boolean(selected(n, answers(n.text)));
    case Node::Kind::kCompare:
      return boolean(
          compare(n.op, evaluate(n.children[0], answers), evaluate(n.children[1], answers)));
    case Node::Kind::kAnd:
      for (const Node& c : n.children) {
        if (!truthy(evaluate(c, answers))) return boolean(false);
      }
      return boolean(true);
    case Node::Kind::kOr:
      for (const Node& c : n.children) {
        if (truthy(evaluate(c, answers))) return boolean(true);
      }
      return boolean(false);
    case Node::Kind::kNot:
      return boolean(!truthy(evaluate(n.children[0], answers)));
  }
  return {};
}

}  // namespace
}  // namespace detail

bool Expression::holds(const AnswerLookup& answers) const {
  return root_ && detail::truthy(detail::evaluate(*root_, answers));
}

}  // namespace satchel::form
