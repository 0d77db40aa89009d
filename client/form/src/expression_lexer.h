// Splits a relevance expression into tokens, refusing stray characters with their column.
// Private to satchel_form.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "expression_ast.h"
#include "satchel/crypto/status.h"

namespace satchel::form::detail {

struct Token {
  enum class Kind { kEnd, kNumber, kString, kRef, kWord, kOpen, kClose, kComma, kCompare };
  Kind kind = Kind::kEnd;
  size_t offset = 0;              // byte offset of the token's first character in the expression
  size_t length = 0;              // bytes of source text it spans
  std::string text;               // kString: the unquoted value; kRef: the id; kWord: the word
  Number number;                  // kNumber
  CompareOp op = CompareOp::kEq;  // kCompare
};

// The tokens of `text`, ending with a kEnd token; errors start with "column N: ".
Result<std::vector<Token>> tokenize(std::string_view text);

// "column N: <what>", N counting code points from 1 at byte `offset` of `text`.
Error error_at(std::string_view text, size_t offset, const std::string& what);

}  // namespace satchel::form::detail
