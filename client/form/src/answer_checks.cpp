#include "answer_checks.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <regex>
#include <set>

#include "field_reader.h"
#include "question_path.h"
#include "scope.h"
#include "text_rules.h"

namespace satchel::form::detail {
namespace {

// "18", "2.5": numbers in messages without trailing zeros.
std::string format_number(double d) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);
  return ec == std::errc() ? std::string(buffer, end) : "?";
}

std::string expected_shape(QuestionType type) {
  switch (type) {
    case QuestionType::kText:
    case QuestionType::kLongText:
      return "must be a string";
    case QuestionType::kInteger:
      return "must be a whole number (a JSON integer)";
    case QuestionType::kDecimal:
      return "must be a number";
    case QuestionType::kDate:
      return "must be a date \"YYYY-MM-DD\"";
    case QuestionType::kSingleChoice:
      return "must be one choice value (a string)";
    case QuestionType::kMultipleChoice:
      return "must be an array of choice values";
    case QuestionType::kYesNo:
    case QuestionType::kConsent:
      return "must be true or false";
    case QuestionType::kLocation:
      return "must be an object {place, lat, lon}";
    case QuestionType::kAttachment:
      return "must be an array of attachment ids";
    case QuestionType::kRepeat:
      return "must be an array of objects, one per instance";
  }
  return "has the wrong type";
}

void check_text(const Question& q, const std::string& s, const std::string& path,
                const IssueSink& sink) {
  const Constraint& c = q.constraint;
  size_t limit = q.type == QuestionType::kLongText ? kMaxLongTextAnswerBytes : kMaxTextAnswerBytes;
  if (s.size() > limit) {
    sink.add(path, Rule::kSize,
             "is " + std::to_string(s.size()) + " bytes; the limit is " + std::to_string(limit));
    return;  // too long to be worth matching
  }
  size_t length = code_points(s);
  if (c.min_length && length < *c.min_length) {
    sink.violated(path, Rule::kMinLength, c,
                  "must be at least " + std::to_string(*c.min_length) + " characters");
  }
  if (c.max_length && length > *c.max_length) {
    sink.violated(path, Rule::kMaxLength, c,
                  "must be at most " + std::to_string(*c.max_length) + " characters");
  }
  if (c.compiled_pattern) {
    bool matches = false;
    try {
      matches = std::regex_match(s, *c.compiled_pattern);
    } catch (const std::exception&) {
      matches = false;  // too complex to decide: refuse rather than accept unchecked
    }
    if (!matches) sink.violated(path, Rule::kPattern, c, "does not match " + *c.pattern);
  }
}

void check_number(const Question& q, double value, const std::string& path, const IssueSink& sink) {
  const Constraint& c = q.constraint;
  if (c.min && value < *c.min) {
    sink.violated(path, Rule::kMin, c, "must be at least " + format_number(*c.min));
  }
  if (c.max && value > *c.max) {
    sink.violated(path, Rule::kMax, c, "must be at most " + format_number(*c.max));
  }
}

void check_date(const Question& q, const std::string& date, const std::string& path,
                const IssueSink& sink) {
  const Constraint& c = q.constraint;
  if (!is_date(date)) {
    sink.add(path, Rule::kType, in_quotes(date) + " is not a date \"YYYY-MM-DD\"");
    return;
  }
  // Fixed-width dates order as strings.
  if (c.min_date && date < *c.min_date) {
    sink.violated(path, Rule::kMin, c, "must be on or after " + *c.min_date);
  }
  if (c.max_date && date > *c.max_date) {
    sink.violated(path, Rule::kMax, c, "must be on or before " + *c.max_date);
  }
}

void check_choices(const Question& q, const nlohmann::json& a, const std::string& path,
                   const IssueSink& sink) {
  if (q.type == QuestionType::kSingleChoice) {
    if (!q.find_choice(a.get_ref<const std::string&>())) {
      sink.add(path, Rule::kChoices, json_excerpt(a) + " is not one of the choices");
    }
    return;
  }
  std::set<std::string> seen;
  for (const auto& item : a) {
    if (!item.is_string() || !q.find_choice(item.get_ref<const std::string&>())) {
      sink.add(path, Rule::kChoices, json_excerpt(item) + " is not one of the choices");
    } else if (!seen.insert(item.get<std::string>()).second) {
      sink.add(path, Rule::kChoices, json_excerpt(item) + " is selected twice");
    }
  }
  const Constraint& c = q.constraint;
  if (c.min_choices && a.size() < *c.min_choices) {
    sink.violated(path, Rule::kMinChoices, c,
                  "select at least " + std::to_string(*c.min_choices) + " choices");
  }
  if (c.max_choices && a.size() > *c.max_choices) {
    sink.violated(path, Rule::kMaxChoices, c,
                  "select at most " + std::to_string(*c.max_choices) + " choices");
  }
}

void check_location(const nlohmann::json& a, const std::string& path, const IssueSink& sink) {
  for (const auto& [key, value] : a.items()) {
    if (key != "place" && key != "lat" && key != "lon") {
      sink.add(path, Rule::kType,
               "unknown field " + in_quotes(key) + " (a location has place, lat, lon)");
    }
  }
  auto place = a.find("place");
  if (place == a.end() || !place->is_string() || place->get_ref<const std::string&>().empty()) {
    sink.add(path, Rule::kType, "place must be a non-empty string");
  } else if (place->get_ref<const std::string&>().size() > kMaxTextAnswerBytes) {
    sink.add(path, Rule::kSize, "place is over " + std::to_string(kMaxTextAnswerBytes) + " bytes");
  }
  auto coordinate = [&](const char* key, double limit) {
    auto v = a.find(key);
    if (v == a.end()) return;
    if (!v->is_number() || !(std::abs(v->get<double>()) <= limit)) {
      sink.add(path, Rule::kType,
               std::string(key) + " must be a number from -" + format_number(limit) + " to " +
                   format_number(limit));
    }
  };
  coordinate("lat", 90);
  coordinate("lon", 180);
  if (a.contains("lat") != a.contains("lon")) {
    sink.add(path, Rule::kType, "lat and lon go together: give both or neither");
  }
}

void check_attachments(const nlohmann::json& a, const std::string& path, const IssueSink& sink) {
  if (a.size() > kMaxAttachmentsPerQuestion) {
    sink.add(path, Rule::kSize,
             "more than " + std::to_string(kMaxAttachmentsPerQuestion) + " attachments");
    return;
  }
  std::set<std::string> seen;
  for (const auto& item : a) {
    if (!item.is_string() || !is_attachment_id(item.get_ref<const std::string&>())) {
      sink.add(path, Rule::kType,
               json_excerpt(item) + " is not an attachment id ([A-Za-z0-9_-]{1,128})");
    } else if (!seen.insert(item.get<std::string>()).second) {
      sink.add(path, Rule::kType, json_excerpt(item) + " is listed twice");
    }
  }
}

void check_instances(const Question& q, const nlohmann::json& a, const std::string& path,
                     const IssueSink& sink) {
  for (size_t i = 0; i < a.size(); ++i) {
    std::string here = instance_path(path, i);
    if (a[i].is_object()) {
      check_keys(q.questions, a[i], here, sink);
    } else {
      sink.add(here, Rule::kType, "a repeat instance must be an object keyed by question id");
    }
  }
}

}  // namespace

void IssueSink::add(const std::string& path, Rule rule, std::string message) const {
  issues.push_back(AnswerIssue{path, rule, std::move(message)});
}

void IssueSink::violated(const std::string& path, Rule rule, const Constraint& c,
                         std::string fallback) const {
  add(path, rule, c.message.empty() ? std::move(fallback) : form.text(c.message, language));
}

void check_answer(const Question& q, const nlohmann::json& a, const std::string& path,
                  const IssueSink& sink) {
  if (!has_answer_shape(q.type, a)) {
    sink.add(path, Rule::kType, expected_shape(q.type) + ", not " + a.type_name());
    return;
  }
  switch (q.type) {
    case QuestionType::kText:
    case QuestionType::kLongText:
      check_text(q, a.get_ref<const std::string&>(), path, sink);
      break;
    case QuestionType::kInteger:
    case QuestionType::kDecimal:
      check_number(q, a.get<double>(), path, sink);
      break;
    case QuestionType::kDate:
      check_date(q, a.get_ref<const std::string&>(), path, sink);
      break;
    case QuestionType::kSingleChoice:
    case QuestionType::kMultipleChoice:
      check_choices(q, a, path, sink);
      break;
    case QuestionType::kLocation:
      check_location(a, path, sink);
      break;
    case QuestionType::kAttachment:
      check_attachments(a, path, sink);
      break;
    case QuestionType::kRepeat:
      check_instances(q, a, path, sink);
      break;
    case QuestionType::kYesNo:
    case QuestionType::kConsent:
      break;
  }
}

void check_keys(const std::vector<Question>& questions, const nlohmann::json& object,
                const std::string& path, const IssueSink& sink) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& key = it.key();
    bool known = std::any_of(questions.begin(), questions.end(),
                             [&](const Question& q) { return q.id == key; });
    if (!known) {
      sink.add(child_path(path, key), Rule::kUnknownQuestion,
               "no question " + in_quotes(key) + " here in this form");
    }
  }
}

}  // namespace satchel::form::detail
