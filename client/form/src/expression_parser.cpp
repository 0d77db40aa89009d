// Recursive-descent parser and type checker for relevance expressions; the grammar is in
// schema/form-format.md, "Expressions". Precedence, loosest first: or, and, not, comparison.
#include <algorithm>
#include <map>

#include "expression_ast.h"
#include "expression_lexer.h"
#include "satchel/form/expression.h"
#include "text_rules.h"

namespace satchel::form {
namespace detail {

ValueType value_type_of(QuestionType type) {
  switch (type) {
    case QuestionType::kText:
    case QuestionType::kLongText:
    case QuestionType::kDate:
    case QuestionType::kSingleChoice:
      return ValueType::kString;
    case QuestionType::kInteger:
    case QuestionType::kDecimal:
      return ValueType::kNumber;
    case QuestionType::kYesNo:
    case QuestionType::kConsent:
      return ValueType::kBoolean;
    case QuestionType::kMultipleChoice:
    case QuestionType::kLocation:
    case QuestionType::kAttachment:
    case QuestionType::kRepeat:
      return ValueType::kOpaque;
  }
  return ValueType::kOpaque;
}

namespace {

const char* type_name(ValueType t) {
  switch (t) {
    case ValueType::kBoolean:
      return "a true/false value";
    case ValueType::kNumber:
      return "a number";
    case ValueType::kString:
      return "a string";
    case ValueType::kOpaque:
      return "a group of answers";
  }
  return "?";
}

class Parser {
 public:
  Parser(std::string_view text, std::vector<Token> tokens, const ReferenceResolver& resolve)
      : text_(text), tokens_(std::move(tokens)), resolve_(resolve) {}

  Result<Node> parse() {
    auto root = parse_or(0);
    if (!root.ok()) return root;
    if (peek().kind != Token::Kind::kEnd) return fail(peek(), "unexpected " + describe(peek()));
    if (root->type != ValueType::kBoolean) {
      return fail(root->offset, std::string("a condition must be true or false, but this is ") +
                                    type_name(root->type));
    }
    return root;
  }

  std::vector<std::string> take_references() { return std::move(references_); }

 private:
  const Token& peek() const { return tokens_[pos_]; }
  const Token& take() { return tokens_[pos_ == tokens_.size() - 1 ? pos_ : pos_++]; }
  bool at_word(std::string_view word) const {
    return peek().kind == Token::Kind::kWord && peek().text == word;
  }

  Error fail(size_t offset, const std::string& what) const { return error_at(text_, offset, what); }
  Error fail(const Token& t, const std::string& what) const { return fail(t.offset, what); }

  std::string describe(const Token& t) const {
    if (t.kind == Token::Kind::kEnd) return "end of expression";
    std::string out = "'";
    out += text_.substr(t.offset, t.length);
    out += '\'';
    return out;
  }

  Status expect(Token::Kind kind, const char* what) {
    if (peek().kind != kind)
      return fail(peek(), std::string("expected ") + what + ", found " + describe(peek()));
    take();
    return Status::Ok();
  }

  Status enter(size_t offset, int depth) const {
    if (depth > kMaxExpressionNesting) {
      return fail(offset, "nested more than " + std::to_string(kMaxExpressionNesting) +
                              " levels deep (parentheses and 'not')");
    }
    return Status::Ok();
  }

  Status require_condition(const Node& n, const char* op) const {
    if (n.type == ValueType::kBoolean) return Status::Ok();
    return fail(n.offset,
                std::string("'") + op + "' needs conditions, but this is " + type_name(n.type));
  }

  // or_expr = and_expr { "or" and_expr }; and_expr likewise with "and".
  Result<Node> parse_or(int depth) { return parse_chain(depth, "or", Node::Kind::kOr); }
  Result<Node> parse_and(int depth) { return parse_chain(depth, "and", Node::Kind::kAnd); }

  Result<Node> parse_chain(int depth, const char* word, Node::Kind kind) {
    auto first = kind == Node::Kind::kOr ? parse_and(depth) : parse_not(depth);
    if (!first.ok() || !at_word(word)) return first;
    Node chain;
    chain.kind = kind;
    chain.type = ValueType::kBoolean;
    chain.offset = first->offset;
    SATCHEL_TRY(require_condition(*first, word));
    chain.children.push_back(std::move(first.value()));
    while (at_word(word)) {
      take();
      auto next = kind == Node::Kind::kOr ? parse_and(depth) : parse_not(depth);
      if (!next.ok()) return next;
      SATCHEL_TRY(require_condition(*next, word));
      chain.children.push_back(std::move(next.value()));
    }
    return chain;
  }

  // not_expr = "not" not_expr | comparison
  Result<Node> parse_not(int depth) {
    if (!at_word("not")) return parse_comparison(depth);
    size_t offset = take().offset;
    SATCHEL_TRY(enter(offset, depth + 1));
    auto operand = parse_not(depth + 1);
    if (!operand.ok()) return operand;
    SATCHEL_TRY(require_condition(*operand, "not"));
    Node n;
    n.kind = Node::Kind::kNot;
    n.offset = offset;
    n.children.push_back(std::move(operand.value()));
    return n;
  }

  // comparison = operand [ compare_op operand ]
  Result<Node> parse_comparison(int depth) {
    auto left = parse_operand(depth);
    if (!left.ok() || peek().kind != Token::Kind::kCompare) return left;
    const Token& op = take();
    auto right = parse_operand(depth);
    if (!right.ok()) return right;
    if (peek().kind == Token::Kind::kCompare) {
      return fail(peek(), "comparisons cannot be chained; combine them with 'and'");
    }
    SATCHEL_TRY(check_comparison(*left, op, *right));
    Node n;
    n.kind = Node::Kind::kCompare;
    n.op = op.op;
    n.offset = left->offset;
    n.children.push_back(std::move(left.value()));
    n.children.push_back(std::move(right.value()));
    return n;
  }

  Status check_comparison(const Node& left, const Token& op, const Node& right) const {
    if (left.type != right.type) {
      return fail(op, std::string("cannot compare ") + type_name(left.type) + " with " +
                          type_name(right.type));
    }
    if (left.type == ValueType::kBoolean && op.op != CompareOp::kEq && op.op != CompareOp::kNe) {
      return fail(op, describe(op) +
                          " orders numbers, strings and dates; true/false values only "
                          "compare with '=' and '!='");
    }
    SATCHEL_TRY(check_literal_fits(left, right));
    return check_literal_fits(right, left);
  }

  // A string literal compared with a choice or date question must be one of its choices or a date.
  Status check_literal_fits(const Node& ref, const Node& literal) const {
    if (ref.kind != Node::Kind::kRef || literal.kind != Node::Kind::kString) return Status::Ok();
    if (ref.ref_type == QuestionType::kSingleChoice) return check_choice(ref.text, literal);
    if (ref.ref_type == QuestionType::kDate && !is_date(literal.text)) {
      return fail(literal.offset, "'" + literal.text + "' is not a date (YYYY-MM-DD)");
    }
    return Status::Ok();
  }

  Status check_choice(const std::string& id, const Node& literal) const {
    if (questions_.at(id)->find_choice(literal.text)) return Status::Ok();
    return fail(literal.offset, "'" + literal.text + "' is not a choice of ${" + id + "}");
  }

  // operand = literal | reference | call | "(" or_expr ")"
  Result<Node> parse_operand(int depth) {
    const Token& t = peek();
    Node n;
    n.offset = t.offset;
    switch (t.kind) {
      case Token::Kind::kOpen: {
        take();
        SATCHEL_TRY(enter(t.offset, depth + 1));
        auto inner = parse_or(depth + 1);
        if (!inner.ok()) return inner;
        SATCHEL_TRY(expect(Token::Kind::kClose, "')'"));
        return inner;
      }
      case Token::Kind::kNumber:
        n.kind = Node::Kind::kNumber;
        n.type = ValueType::kNumber;
        n.number = take().number;
        return n;
      case Token::Kind::kString:
        n.kind = Node::Kind::kString;
        n.type = ValueType::kString;
        n.text = take().text;
        return n;
      case Token::Kind::kRef:
        return parse_reference();
      case Token::Kind::kWord:
        return parse_word();
      default:
        return fail(t, "expected a value, found " + describe(t));
    }
  }

  Result<Node> parse_word() {
    const Token& t = peek();
    Node n;
    n.offset = t.offset;
    if (t.text == "true" || t.text == "false") {
      n.kind = Node::Kind::kBool;
      n.boolean = take().text == "true";
      return n;
    }
    if (t.text == "selected") return parse_selected();
    if (t.text == "count") return parse_count();
    if (t.text == "and" || t.text == "or" || t.text == "not") {
      return fail(t, "expected a value before " + describe(t));
    }
    return fail(t, "unknown word " + describe(t) +
                       " (functions are selected and count; strings need single quotes)");
  }

  // reference = "${" id "}"; resolved through the form's scoping rules.
  Result<const Question*> resolve(const Token& t) {
    auto q = resolve_(t.text);
    if (!q.ok()) return fail(t, q.error().message);
    questions_[t.text] = q.value();
    if (std::find(references_.begin(), references_.end(), t.text) == references_.end()) {
      references_.push_back(t.text);
    }
    return q;
  }

  Result<Node> parse_reference() {
    const Token& t = take();
    auto q = resolve(t);
    if (!q.ok()) return q.error();
    Node n;
    n.kind = Node::Kind::kRef;
    n.offset = t.offset;
    n.text = t.text;
    n.ref_type = (*q)->type;
    n.type = value_type_of(n.ref_type);
    if (n.type == ValueType::kOpaque) {
      std::string how = n.ref_type == QuestionType::kMultipleChoice
                            ? "selected(${" + t.text + "}, 'value') or count(${" + t.text + "})"
                            : "count(${" + t.text + "})";
      return fail(t, "${" + t.text + "} is a " + question_type_name(n.ref_type) +
                         " question; read it with " + how);
    }
    return n;
  }

  // call = "count" "(" reference ")"
  Result<Node> parse_count() {
    Node n;
    n.kind = Node::Kind::kCount;
    n.type = ValueType::kNumber;
    n.offset = take().offset;
    SATCHEL_TRY(expect(Token::Kind::kOpen, "'(' after count"));
    const Token& ref = peek();
    SATCHEL_TRY(expect(Token::Kind::kRef, "a question reference ${id}"));
    auto q = resolve(ref);
    if (!q.ok()) return q.error();
    n.text = ref.text;
    n.ref_type = (*q)->type;
    SATCHEL_TRY(expect(Token::Kind::kClose, "')'"));
    return n;
  }

  // call = "selected" "(" reference "," string ")"
  Result<Node> parse_selected() {
    Node n;
    n.kind = Node::Kind::kSelected;
    n.offset = take().offset;
    SATCHEL_TRY(expect(Token::Kind::kOpen, "'(' after selected"));
    const Token& ref = peek();
    SATCHEL_TRY(expect(Token::Kind::kRef, "a question reference ${id}"));
    auto q = resolve(ref);
    if (!q.ok()) return q.error();
    n.text = ref.text;
    n.ref_type = (*q)->type;
    if (n.ref_type != QuestionType::kSingleChoice && n.ref_type != QuestionType::kMultipleChoice) {
      return fail(ref, "selected() reads a single_choice or multiple_choice question; ${" +
                           ref.text + "} is " + question_type_name(n.ref_type));
    }
    SATCHEL_TRY(expect(Token::Kind::kComma, "','"));
    const Token& value = peek();
    SATCHEL_TRY(expect(Token::Kind::kString, "a choice value in single quotes"));
    Node literal;
    literal.kind = Node::Kind::kString;
    literal.offset = value.offset;
    literal.text = value.text;
    SATCHEL_TRY(check_choice(n.text, literal));
    n.choice = value.text;
    SATCHEL_TRY(expect(Token::Kind::kClose, "')'"));
    return n;
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  const ReferenceResolver& resolve_;
  std::map<std::string, const Question*> questions_;  // resolved so far, valid while parsing
  std::vector<std::string> references_;
};

}  // namespace
}  // namespace detail

Result<Expression> parse_expression(std::string_view text, const ReferenceResolver& resolve) {
  if (detail::code_points(text) > kMaxExpressionChars) {
    return make_error(Errc::kInvalidArgument,
                      "column " + std::to_string(kMaxExpressionChars + 1) + ": longer than " +
                          std::to_string(kMaxExpressionChars) + " characters");
  }
  auto tokens = detail::tokenize(text);
  if (!tokens.ok()) return tokens.error();
  detail::Parser parser(text, std::move(tokens.value()), resolve);
  auto root = parser.parse();
  if (!root.ok()) return root.error();
  Expression e;
  e.source_ = std::string(text);
  e.references_ = parser.take_references();
  e.root_ = std::make_shared<const detail::Node>(std::move(root.value()));
  return e;
}

}  // namespace satchel::form
