#include "expression_lexer.h"

#include <charconv>

#include "text_rules.h"

namespace satchel::form::detail {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_word_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_word_char(char c) {
  return is_word_start(c) || is_digit(c);
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Result<std::vector<Token>> run() {
    std::vector<Token> tokens;
    while (true) {
      while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
      if (pos_ == text_.size()) break;
      auto token = next();
      if (!token.ok()) return token.error();
      tokens.push_back(std::move(token.value()));
    }
    Token end;
    end.offset = text_.size();
    tokens.push_back(end);
    return tokens;
  }

 private:
  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

  char peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }

  Token make(Token::Kind kind, size_t start) const {
    Token t;
    t.kind = kind;
    t.offset = start;
    t.length = pos_ - start;
    return t;
  }

  Error fail(size_t offset, const std::string& what) const { return error_at(text_, offset, what); }

  Result<Token> next() {
    size_t start = pos_;
    char c = peek();
    if (c == '(' || c == ')' || c == ',') {
      ++pos_;
      return make(c == '('   ? Token::Kind::kOpen
                  : c == ')' ? Token::Kind::kClose
                             : Token::Kind::kComma,
                  start);
    }
    if (c == '\'') return string_literal();
    if (c == '$') return reference();
    if (is_digit(c) || (c == '-' && is_digit(peek(1)))) return number();
    if (is_word_start(c)) {
      while (is_word_char(peek())) ++pos_;
      Token t = make(Token::Kind::kWord, start);
      t.text = std::string(text_.substr(start, pos_ - start));
      return t;
    }
    return comparison();
  }

  Result<Token> comparison() {
    size_t start = pos_;
    std::string_view two = text_.substr(pos_, 2);
    if (two == "==") return fail(start, "'==' is not an operator; use '=' to compare");
    if (two == "&&") return fail(start, "'&&' is not an operator; use 'and'");
    if (two == "||") return fail(start, "'||' is not an operator; use 'or'");
    static constexpr std::pair<std::string_view, CompareOp> kOps[] = {
        {"!=", CompareOp::kNe}, {"<=", CompareOp::kLe}, {">=", CompareOp::kGe},
        {"=", CompareOp::kEq},  {"<", CompareOp::kLt},  {">", CompareOp::kGt},
    };
    for (const auto& [spelling, op] : kOps) {
      if (text_.substr(pos_, spelling.size()) == spelling) {
        pos_ += spelling.size();
        Token t = make(Token::Kind::kCompare, start);
        t.op = op;
        return t;
      }
    }
    if (peek() == '!') return fail(start, "'!' is not an operator; use 'not' or '!='");
    if (peek() == '"') return fail(start, "strings are written in single quotes: 'like this'");
    size_t end = start + 1;
    while (end < text_.size() && (static_cast<unsigned char>(text_[end]) & 0xC0) == 0x80) ++end;
    return fail(start,
                "unexpected character '" + std::string(text_.substr(start, end - start)) + "'");
  }

  Result<Token> string_literal() {
    size_t start = pos_++;
    std::string value;
    while (true) {
      if (pos_ >= text_.size()) return fail(start, "string not terminated by a closing quote");
      char c = text_[pos_++];
      if (c != '\'') {
        value += c;
      } else if (peek() == '\'') {  // '' stands for one quote
        value += '\'';
        ++pos_;
      } else {
        break;
      }
    }
    Token t = make(Token::Kind::kString, start);
    t.text = std::move(value);
    return t;
  }

  Result<Token> reference() {
    size_t start = pos_;
    if (peek(1) != '{') return fail(start, "'$' must start a question reference like ${id}");
    size_t close = text_.find('}', pos_);
    if (close == std::string_view::npos) return fail(start, "reference not closed by '}'");
    std::string_view id = text_.substr(pos_ + 2, close - pos_ - 2);
    if (!is_question_id(id)) {
      return fail(start,
                  "'${" + std::string(id) + "}' is not a question id ([a-z][a-z0-9_]{0,63})");
    }
    pos_ = close + 1;
    Token t = make(Token::Kind::kRef, start);
    t.text = std::string(id);
    return t;
  }

  Result<Token> number() {
    size_t start = pos_;
    if (peek() == '-') ++pos_;
    while (is_digit(peek())) ++pos_;
    bool integral = true;
    if (peek() == '.') {
      if (!is_digit(peek(1))) return fail(pos_, "a decimal point must be followed by digits");
      integral = false;
      ++pos_;
      while (is_digit(peek())) ++pos_;
    }
    Token t = make(Token::Kind::kNumber, start);
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    t.number.integral = integral;
    std::from_chars_result parsed = integral ? std::from_chars(first, last, t.number.i)
                                             : std::from_chars(first, last, t.number.d);
    if (parsed.ec != std::errc() || parsed.ptr != last) {
      return fail(start, "number '" + std::string(first, last) + "' is out of range");
    }
    if (integral) t.number.d = static_cast<double>(t.number.i);
    return t;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Error error_at(std::string_view text, size_t offset, const std::string& what) {
  return make_error(Errc::kInvalidArgument,
                    "column " + std::to_string(column_at(text, offset)) + ": " + what);
}

Result<std::vector<Token>> tokenize(std::string_view text) {
  return Lexer(text).run();
}

}  // namespace satchel::form::detail
