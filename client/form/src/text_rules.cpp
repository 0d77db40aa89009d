#include "text_rules.h"

#include <algorithm>

namespace satchel::form::detail {
namespace {

bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_alpha(char c) {
  return is_lower(c) || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}

template <class Pred>
bool all_of(std::string_view s, Pred pred) {
  return std::all_of(s.begin(), s.end(), pred);
}

int two_digits(std::string_view s, size_t at) {
  return (s[at] - '0') * 10 + (s[at + 1] - '0');
}

}  // namespace

bool is_form_id(std::string_view s) {
  return !s.empty() && s.size() <= 64 &&
         all_of(s, [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool is_question_id(std::string_view s) {
  return !s.empty() && s.size() <= 64 && is_lower(s[0]) &&
         all_of(s, [](char c) { return is_lower(c) || is_digit(c) || c == '_'; });
}

bool is_choice_value(std::string_view s) {
  return !s.empty() && s.size() <= 64 &&
         all_of(s, [](char c) { return is_alnum(c) || c == '_' || c == '-'; });
}

bool is_attachment_id(std::string_view s) {
  return !s.empty() && s.size() <= 128 &&
         all_of(s, [](char c) { return is_alnum(c) || c == '_' || c == '-'; });
}

bool is_language_code(std::string_view s) {
  size_t dash = s.find('-');
  std::string_view primary = s.substr(0, dash);
  if (primary.size() < 2 || primary.size() > 3 || !all_of(primary, is_lower)) return false;
  int subtags = 0;
  while (dash != std::string_view::npos) {
    s.remove_prefix(dash + 1);
    dash = s.find('-');
    std::string_view sub = s.substr(0, dash);
    if (++subtags > 4 || sub.empty() || sub.size() > 8 || !all_of(sub, is_alnum)) return false;
  }
  return true;
}

bool is_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!is_digit(s[i])) return false;
  }
  int year = two_digits(s, 0) * 100 + two_digits(s, 2);
  int month = two_digits(s, 5);
  int day = two_digits(s, 8);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int last = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  return day <= last;
}

std::string excerpt(std::string_view text) {
  constexpr size_t kMax = 64;
  if (text.size() <= kMax) return std::string(text);
  size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

std::string in_quotes(std::string_view text) {
  std::string out = "'";
  out += excerpt(text);
  out += '\'';
  return out;
}

size_t code_points(std::string_view utf8) {
  return static_cast<size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

size_t column_at(std::string_view utf8, size_t offset) {
  return code_points(utf8.substr(0, offset)) + 1;
}

}  // namespace satchel::form::detail
