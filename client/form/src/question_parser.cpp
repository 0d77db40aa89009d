#include "question_parser.h"

#include <algorithm>
#include <set>

#include "text_rules.h"

namespace satchel::form::detail {
namespace {

// The type spelled `name` in JSON; question_type_name holds the only table of spellings.
std::optional<QuestionType> type_named(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(QuestionType::kRepeat); ++i) {
    auto type = static_cast<QuestionType>(i);
    if (name == question_type_name(type)) return type;
  }
  return std::nullopt;
}

std::optional<AttachmentKind> kind_named(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(AttachmentKind::kDocument); ++i) {
    auto kind = static_cast<AttachmentKind>(i);
    if (name == attachment_kind_name(kind)) return kind;
  }
  return std::nullopt;
}

// Fields that only some types take; each type's own list is below.
const std::vector<std::string_view> kTypeSpecific = {
    "required", "constraint", "choices", "accept", "questions", "min_count", "max_count"};

std::vector<std::string_view> fields_of(QuestionType type) {
  std::vector<std::string_view> f = {"id", "type", "label", "hint", "identifying", "relevant"};
  switch (type) {
    case QuestionType::kText:
    case QuestionType::kLongText:
    case QuestionType::kInteger:
    case QuestionType::kDecimal:
    case QuestionType::kDate:
      f.insert(f.end(), {"required", "constraint"});
      break;
    case QuestionType::kSingleChoice:
      f.insert(f.end(), {"required", "choices"});
      break;
    case QuestionType::kMultipleChoice:
      f.insert(f.end(), {"required", "choices", "constraint"});
      break;
    case QuestionType::kYesNo:
    case QuestionType::kLocation:
    case QuestionType::kConsent:
      f.push_back("required");
      break;
    case QuestionType::kAttachment:
      f.insert(f.end(), {"required", "accept"});
      break;
    case QuestionType::kRepeat:
      f.insert(f.end(), {"questions", "min_count", "max_count"});
      break;
  }
  return f;
}

bool is_declared(const std::vector<Language>& languages, std::string_view code) {
  return std::any_of(languages.begin(), languages.end(),
                     [&](const Language& l) { return l.code == code; });
}

std::string type_list() {
  std::string s;
  for (int i = 0; i <= static_cast<int>(QuestionType::kRepeat); ++i) {
    s += (s.empty() ? "" : ", ") + std::string(question_type_name(static_cast<QuestionType>(i)));
  }
  return s;
}

std::vector<Choice> read_choices(FieldReader& q, const FormContext& ctx) {
  std::vector<Choice> choices;
  const nlohmann::json* list = q.find("choices", true);
  if (!list) return choices;
  if (!list->is_array() || list->empty()) {
    q.problem("choices", "must be a non-empty array of {value, label}");
    return choices;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < list->size(); ++i) {
    std::string prefix = "choices[" + std::to_string(i) + "].";
    FieldReader c((*list)[i], q.where(), prefix, ctx.problems);
    c.allow_only({"value", "label"});
    Choice choice;
    std::optional<std::string> value = c.string("value", true);
    if (value && !is_choice_value(*value)) {
      c.problem("value", in_quotes(*value) + " is not a valid choice value ([A-Za-z0-9_-]{1,64})");
    } else if (value && !seen.insert(*value).second) {
      c.problem("value", in_quotes(*value) + " is used by another choice of this question");
    }
    choice.value = value.value_or("");
    choice.label = read_localized(c, "label", true, ctx);
    choices.push_back(std::move(choice));
  }
  return choices;
}

std::vector<AttachmentKind> read_accept(FieldReader& q) {
  std::vector<AttachmentKind> kinds;
  const nlohmann::json* list = q.find("accept", true);
  if (!list) return kinds;
  if (!list->is_array() || list->empty()) {
    q.problem("accept", "must be a non-empty array of \"audio\", \"photo\", \"document\"");
    return kinds;
  }
  for (const auto& item : *list) {
    std::optional<AttachmentKind> kind =
        item.is_string() ? kind_named(item.get_ref<const std::string&>()) : std::nullopt;
    if (!kind) {
      q.problem("accept", json_excerpt(item) + " is not one of \"audio\", \"photo\", \"document\"");
    } else if (std::find(kinds.begin(), kinds.end(), *kind) != kinds.end()) {
      q.problem("accept", json_excerpt(item) + " is listed twice");
    } else {
      kinds.push_back(*kind);
    }
  }
  return kinds;
}

void read_repeat(FieldReader& f, Question& q, const std::string& path, int depth,
                 FormContext& ctx) {
  q.min_count = f.count("min_count");
  q.max_count = f.count("max_count");
  if (q.max_count && *q.max_count == 0) f.problem("max_count", "must be at least 1");
  if (q.min_count && q.max_count && *q.min_count > *q.max_count) {
    f.problem("min_count", "is greater than max_count");
  }
  const nlohmann::json* inner = f.find("questions", true);
  if (!inner) return;
  if (depth + 1 > kMaxRepeatDepth) {
    f.problem("questions", "repeats nest at most " + std::to_string(kMaxRepeatDepth) +
                               " deep; this one is at depth " + std::to_string(depth + 1));
    return;
  }
  if (!inner->is_array() || inner->empty()) {
    f.problem("questions", "must be a non-empty array of questions");
    return;
  }
  q.questions = read_questions(*inner, path + ".questions", depth + 1, ctx);
}

void check_choice_counts(FieldReader& f, const Question& q) {
  const Constraint& c = q.constraint;
  if (c.max_choices && *c.max_choices > q.choices.size()) {
    f.problem("constraint.max_choices", "is more than the " + std::to_string(q.choices.size()) +
                                            " choices this question offers");
  }
  if (c.min_choices && *c.min_choices > q.choices.size()) {
    f.problem("constraint.min_choices", "is more than the " + std::to_string(q.choices.size()) +
                                            " choices this question offers");
  }
}

Question read_question(const nlohmann::json& j, const std::string& path, int depth,
                       FormContext& ctx) {
  ++ctx.question_count;
  Question q;
  if (j.is_object() && j.contains("id") && j["id"].is_string()) q.id = j["id"].get<std::string>();
  if (!is_question_id(q.id)) q.id.clear();
  FieldReader f(j, question_place(q, path), "", ctx.problems);
  if (!f.is_object()) return q;

  std::optional<std::string> id = f.string("id", true);
  if (id && !is_question_id(*id)) {
    f.problem("id", in_quotes(*id) + " is not a valid question id ([a-z][a-z0-9_]{0,63})");
  }
  std::optional<std::string> type_name = f.string("type", true);
  std::optional<QuestionType> type = type_name ? type_named(*type_name) : std::nullopt;
  if (type_name && !type) {
    f.problem("type", "unknown type " + in_quotes(*type_name) + " (one of " + type_list() + ")");
  }
  q.label = read_localized(f, "label", true, ctx);
  q.hint = read_localized(f, "hint", false, ctx);
  q.identifying = f.boolean("identifying", false).value_or(false);
  if (auto relevant = f.string("relevant", false); relevant && relevant->empty()) {
    f.problem("relevant", "must not be empty (leave the field out instead)");
  }
  if (!type) {
    std::vector<std::string_view> any = fields_of(QuestionType::kText);
    any.insert(any.end(), kTypeSpecific.begin(), kTypeSpecific.end());
    f.allow_only(any);
    return q;
  }
  q.type = *type;
  f.allow_only(fields_of(q.type), kTypeSpecific,
               "does not apply to a question of type '" + *type_name + "'");
  std::vector<std::string_view> own = fields_of(q.type);
  auto takes = [&](std::string_view field) {
    return std::find(own.begin(), own.end(), field) != own.end();
  };
  if (takes("required")) q.required = f.boolean("required", false).value_or(false);
  if (takes("choices")) q.choices = read_choices(f, ctx);
  if (takes("accept")) q.accept = read_accept(f);
  if (takes("constraint")) q.constraint = read_constraint(f, q.type, ctx);
  if (q.type == QuestionType::kMultipleChoice) check_choice_counts(f, q);
  if (q.is_repeat()) read_repeat(f, q, path, depth, ctx);
  return q;
}

}  // namespace

std::string question_place(const Question& q, const std::string& json_path) {
  return q.id.empty() ? "question at " + json_path : "question '" + q.id + "'";
}

LocalizedText read_localized(FieldReader& fields, std::string_view key, bool required,
                             const FormContext& ctx) {
  LocalizedText text;
  const nlohmann::json* value = fields.find(key, required);
  if (!value) return text;
  if (!value->is_object()) {
    fields.problem(key, "must be an object of language code to text, not " + json_kind(*value));
    return text;
  }
  for (const auto& [code, item] : value->items()) {
    if (!is_declared(ctx.languages, code)) {
      fields.problem(key, "language " + in_quotes(code) + " is not declared in languages");
    } else if (!item.is_string() || item.get_ref<const std::string&>().empty()) {
      fields.problem(key, "the " + in_quotes(code) + " text must be a non-empty string");
    } else {
      text.emplace(code, item.get<std::string>());
    }
  }
  if (!value->contains(ctx.default_language) && !ctx.default_language.empty()) {
    fields.problem(key, "has no text in the default language '" + ctx.default_language + "'");
  }
  return text;
}

std::vector<Question> read_questions(const nlohmann::json& value, const std::string& path,
                                     int depth, FormContext& ctx) {
  std::vector<Question> questions;
  questions.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    questions.push_back(read_question(value[i], path + "[" + std::to_string(i) + "]", depth, ctx));
  }
  return questions;
}

}  // namespace satchel::form::detail
