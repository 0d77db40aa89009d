// The form model's lookups and the JSON spellings of its enumerations.
#include "satchel/form/form.h"

#include <algorithm>

namespace satchel::form {
namespace {

const Question* find_in(const std::vector<Question>& questions, std::string_view id) {
  for (const Question& q : questions) {
    if (q.id == id) return &q;
    if (const Question* inner = find_in(q.questions, id)) return inner;
  }
  return nullptr;
}

}  // namespace

const char* question_type_name(QuestionType type) {
  switch (type) {
    case QuestionType::kText:
      return "text";
    case QuestionType::kLongText:
      return "long_text";
    case QuestionType::kInteger:
      return "integer";
    case QuestionType::kDecimal:
      return "decimal";
    case QuestionType::kDate:
      return "date";
    case QuestionType::kSingleChoice:
      return "single_choice";
    case QuestionType::kMultipleChoice:
      return "multiple_choice";
    case QuestionType::kYesNo:
      return "yes_no";
    case QuestionType::kLocation:
      return "location";
    case QuestionType::kAttachment:
      return "attachment";
    case QuestionType::kConsent:
      return "consent";
    case QuestionType::kRepeat:
      return "repeat";
  }
  return "unknown";
}

const char* attachment_kind_name(AttachmentKind kind) {
  switch (kind) {
    case AttachmentKind::kAudio:
      return "audio";
    case AttachmentKind::kPhoto:
      return "photo";
    case AttachmentKind::kDocument:
      return "document";
  }
  return "unknown";
}

const Choice* Question::find_choice(std::string_view value) const {
  auto it = std::find_if(choices.begin(), choices.end(),
                         [&](const Choice& c) { return c.value == value; });
  return it == choices.end() ? nullptr : &*it;
}

const std::string& Form::text(const LocalizedText& localized, std::string_view language) const {
  static const std::string kNone;
  auto it = localized.find(language);
  if (it == localized.end()) it = localized.find(default_language);
  return it == localized.end() ? kNone : it->second;
}

const Language* Form::find_language(std::string_view code) const {
  auto it = std::find_if(languages.begin(), languages.end(),
                         [&](const Language& l) { return l.code == code; });
  return it == languages.end() ? nullptr : &*it;
}

const Question* Form::find_question(std::string_view question_id) const {
  return find_in(questions, question_id);
}

}  // namespace satchel::form
