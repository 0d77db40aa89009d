// Lexical rules shared by the form parser, the expression parser and answer validation: id
// syntaxes, calendar dates and UTF-8 counting. Private to satchel_form.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace satchel::form::detail {

// [A-Za-z0-9._-]{1,64}: a form id (as in the signed form envelope).
bool is_form_id(std::string_view s);
// [a-z][a-z0-9_]{0,63}: a question id.
bool is_question_id(std::string_view s);
// [A-Za-z0-9_-]{1,64}: a choice value.
bool is_choice_value(std::string_view s);
// [A-Za-z0-9_-]{1,128}: an attachment id assigned by the client.
bool is_attachment_id(std::string_view s);
// A BCP 47 tag as the format accepts it: a 2-3 letter lower-case language subtag, then up to
// four subtags of 1-8 letters or digits ("en", "ar", "pt-BR", "zh-Hant-TW").
bool is_language_code(std::string_view s);
// "YYYY-MM-DD", a real date of the proleptic Gregorian calendar, year 0001 to 9999.
bool is_date(std::string_view s);

// `text` for a message: cut at a character boundary after about 64 bytes, marked with "...".
std::string excerpt(std::string_view text);
// excerpt(text) in single quotes.
std::string in_quotes(std::string_view text);

// Unicode code points in UTF-8 text (bytes that are not continuation bytes).
size_t code_points(std::string_view utf8);
// The 1-based column, in code points, of the byte at `offset`.
size_t column_at(std::string_view utf8, size_t offset);

}  // namespace satchel::form::detail
