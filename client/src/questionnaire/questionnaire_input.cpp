// Typed text to answers and answers back to text, per question type.
#include "questionnaire/questionnaire_input.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

namespace satchel::cli {
namespace {

Error invalid(std::string message) {
  return make_error(Errc::kInvalidArgument, std::move(message));
}

std::string format_number(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, end) : "?";
}

std::optional<double> parse_number(std::string_view t) {
  if (t.starts_with('+')) t.remove_prefix(1);
  std::string s(t);
  if (s.find('.') == std::string::npos) {
    if (auto comma = s.find(',');
        comma != std::string::npos && s.find(',', comma + 1) == std::string::npos)
      s[comma] = '.';  // "2,5": the decimal comma many languages use
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(value))
    return std::nullopt;
  return value;
}

// The index of the choice `token` names: its number in the menu (from 1) or its value.
std::optional<size_t> choice_index(const form::Question& q, std::string_view token) {
  size_t n = 0;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), n);
  if (ec == std::errc() && ptr == token.data() + token.size())
    return n >= 1 && n <= q.choices.size() ? std::optional<size_t>(n - 1) : std::nullopt;
  for (size_t i = 0; i < q.choices.size(); ++i)
    if (q.choices[i].value == token) return i;
  return std::nullopt;
}

bool is_date_shape(std::string_view t) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-') return false;
  for (size_t i = 0; i < t.size(); ++i)
    if (i != 4 && i != 7 && (t[i] < '0' || t[i] > '9')) return false;
  return true;
}

std::string cut(const std::string& s, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (chars++ == max_chars)
      return s.substr(0, i) + " ... (" + std::to_string(s.size()) + " bytes in all)";
  }
  return s;
}

std::string choice_label(const form::Form& f, const form::Question& q, const nlohmann::json& v,
                         std::string_view language) {
  if (!v.is_string()) return v.dump();
  const form::Choice* c = q.find_choice(v.get_ref<const std::string&>());
  return c ? f.text(c->label, language) : v.get<std::string>();
}

std::string bounds(const char* noun, const std::optional<std::string>& low,
                   const std::optional<std::string>& high) {
  if (low && high) return " (" + std::string(noun) + " " + *low + " to " + *high + ")";
  if (low) return " (at least " + *low + ")";
  if (high) return " (at most " + *high + ")";
  return "";
}

std::optional<std::string> as_text(std::optional<double> d) {
  return d ? std::optional<std::string>(format_number(*d)) : std::nullopt;
}

std::optional<std::string> as_text(std::optional<size_t> n) {
  return n ? std::optional<std::string>(std::to_string(*n)) : std::nullopt;
}

}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::optional<bool> parse_yes_no(std::string_view typed) {
  std::string t(trim(typed));
  for (char& c : t) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (t == "y" || t == "yes") return true;
  if (t == "n" || t == "no") return false;
  return std::nullopt;
}

Result<nlohmann::json> parse_answer(const form::Question& q, std::string_view typed) {
  const std::string_view t = trim(typed);
  switch (q.type) {
    case form::QuestionType::kText:
      return nlohmann::json(std::string(t));
    case form::QuestionType::kLongText:
      return nlohmann::json(std::string(typed));
    case form::QuestionType::kInteger: {
      std::string_view digits = t.starts_with('+') ? t.substr(1) : t;
      int64_t value = 0;
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size())
        return invalid("type a whole number, like 42");
      return nlohmann::json(value);
    }
    case form::QuestionType::kDecimal: {
      auto value = parse_number(t);
      if (!value) return invalid("type a number, like 2.5");
      return nlohmann::json(*value);
    }
    case form::QuestionType::kDate:
      if (!is_date_shape(t)) return invalid("type the date as YYYY-MM-DD, like 2024-03-15");
      return nlohmann::json(std::string(t));
    case form::QuestionType::kSingleChoice: {
      auto index = choice_index(q, t);
      if (!index)
        return invalid("type the number of one choice, from 1 to " +
                       std::to_string(q.choices.size()));
      return nlohmann::json(q.choices[*index].value);
    }
    case form::QuestionType::kMultipleChoice: {
      std::set<size_t> picked;  // menu order, each once
      std::string_view rest = t;
      while (!rest.empty()) {
        size_t sep = rest.find_first_of(" ,;\t");
        std::string_view token = rest.substr(0, sep);
        rest = sep == std::string_view::npos ? std::string_view{} : rest.substr(sep + 1);
        if (token.empty()) continue;
        auto index = choice_index(q, token);
        if (!index) {
          return invalid("'" + std::string(token) + "' is not a choice: type numbers from 1 to " +
                         std::to_string(q.choices.size()) + ", separated by spaces or commas");
        }
        picked.insert(*index);
      }
      if (picked.empty()) return invalid("type the numbers of your choices, like 1 3");
      nlohmann::json values = nlohmann::json::array();
      for (size_t i : picked) values.push_back(q.choices[i].value);
      return values;
    }
    case form::QuestionType::kYesNo:
    case form::QuestionType::kConsent: {
      auto yes = parse_yes_no(t);
      if (!yes) return invalid("type y or n");
      return nlohmann::json(*yes);
    }
    case form::QuestionType::kLocation:
    case form::QuestionType::kAttachment:
    case form::QuestionType::kRepeat:
      break;
  }
  return make_error(Errc::kInternal, std::string("a ") + form::question_type_name(q.type) +
                                         " question takes no single typed answer");
}

Result<nlohmann::json> parse_location(std::string_view place, std::string_view coordinates) {
  nlohmann::json location = {{"place", std::string(trim(place))}};
  std::string_view c = trim(coordinates);
  if (c.empty()) return location;
  size_t sep = c.find_first_of(", ");
  auto lat = sep == std::string_view::npos ? std::nullopt : parse_number(trim(c.substr(0, sep)));
  auto lon = sep == std::string_view::npos ? std::nullopt : parse_number(trim(c.substr(sep + 1)));
  if (!lat || !lon) return invalid("type the coordinates as lat,lon, like -1.2921,36.8219");
  location["lat"] = *lat;
  location["lon"] = *lon;
  return location;
}

std::string describe_answer(const form::Form& f, const form::Question& q,
                            const nlohmann::json& answer, std::string_view language,
                            size_t max_chars) {
  using T = form::QuestionType;
  switch (q.type) {
    case T::kText:
    case T::kLongText:
    case T::kDate:
      if (answer.is_string()) return cut(answer.get_ref<const std::string&>(), max_chars);
      break;
    case T::kInteger:
    case T::kDecimal:
      if (answer.is_number()) return format_number(answer.get<double>());
      break;
    case T::kSingleChoice:
      return choice_label(f, q, answer, language);
    case T::kMultipleChoice:
      if (answer.is_array()) {
        std::string out;
        for (const auto& v : answer)
          out += (out.empty() ? "" : ", ") + choice_label(f, q, v, language);
        return out;
      }
      break;
    case T::kYesNo:
      if (answer.is_boolean()) return answer.get<bool>() ? "yes" : "no";
      break;
    case T::kConsent:
      if (answer.is_boolean())
        return answer.get<bool>() ? "yes, consent given" : "no, consent refused";
      break;
    case T::kLocation:
      if (answer.is_object() && answer.contains("place") && answer["place"].is_string()) {
        std::string out = cut(answer["place"].get<std::string>(), max_chars);
        if (answer.contains("lat") && answer.contains("lon") && answer["lat"].is_number() &&
            answer["lon"].is_number())
          out += " (" + format_number(answer["lat"].get<double>()) + ", " +
                 format_number(answer["lon"].get<double>()) + ")";
        return out;
      }
      break;
    case T::kAttachment:
      if (answer.is_array()) return std::to_string(answer.size()) + " file(s) attached";
      break;
    case T::kRepeat:
      if (answer.is_array()) return entries_text(answer.size());
      break;
  }
  return answer.dump();
}

std::string entries_text(size_t n) {
  return std::to_string(n) + (n == 1 ? " entry" : " entries");
}

std::string input_instructions(const form::Question& q) {
  using T = form::QuestionType;
  const form::Constraint& c = q.constraint;
  const std::string lengths = c.min_length || c.max_length
                                  ? bounds("from", as_text(c.min_length), as_text(c.max_length))
                                  : "";
  const std::string characters =
      lengths.empty() ? "" : lengths.substr(0, lengths.size() - 1) + " characters)";
  switch (q.type) {
    case T::kText:
      return "Type your answer on one line" + characters + ".";
    case T::kLongText:
      return "Type as many lines as you need" + characters +
             "; finish with a line holding only \".\"";
    case T::kInteger:
      return "A whole number" + bounds("from", as_text(c.min), as_text(c.max)) + ".";
    case T::kDecimal:
      return "A number, like 2.5" + bounds("from", as_text(c.min), as_text(c.max)) + ".";
    case T::kDate:
      return "A date as YYYY-MM-DD" + bounds("from", c.min_date, c.max_date) + ".";
    case T::kSingleChoice:
      return "Type the number of your choice.";
    case T::kMultipleChoice:
      return "Type the numbers of your choices, separated by spaces or commas" +
             bounds("choose", as_text(c.min_choices), as_text(c.max_choices)) + ".";
    case T::kYesNo:
      return "Type y or n.";
    case T::kConsent:
      return "Type y to give consent, n to refuse.";
    case T::kLocation:
      return "First the place name, then (optional) the coordinates as lat,lon.";
    case T::kAttachment:
      return "Files are attached after saving the record: satchel attach RECORD_ID FILE "
             "--question " +
             q.id + "\nPress Enter to continue.";
    case T::kRepeat:
      break;
  }
  return "";
}

}  // namespace satchel::cli
