// The form model: a survey or testimony form as loaded from its JSON definition
// (schema/form-format.md), and parse_form, the only way to build one. A Form that exists has passed
// every static check: field types, limits, unique ids, compiled patterns and relevance
// expressions that only look at earlier answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/status.h"
#include "satchel/form/expression.h"

namespace satchel::form {

// Limits of schema/form-format.md, "Limits".
inline constexpr size_t kMaxFormBytes = 4 * 1024 * 1024;
inline constexpr size_t kMaxQuestions = 500;
inline constexpr size_t kMaxTextAnswerBytes = 4 * 1024;
inline constexpr size_t kMaxLongTextAnswerBytes = 1024 * 1024;
inline constexpr int kMaxRepeatDepth = 3;
inline constexpr size_t kMaxPatternChars = 512;
inline constexpr size_t kMaxAttachmentsPerQuestion = 256;

// Language code -> text. A parsed form guarantees an entry for its default language.
using LocalizedText = std::map<std::string, std::string, std::less<>>;

struct Language {
  std::string code;  // BCP 47 tag: "en", "ar", "pt-BR"
  std::string name;  // the language's own name for itself: "العربية"
  bool rtl = false;  // written right to left
};

enum class QuestionType {
  kText,
  kLongText,
  kInteger,
  kDecimal,
  kDate,
  kSingleChoice,
  kMultipleChoice,
  kYesNo,
  kLocation,
  kAttachment,
  kConsent,
  kRepeat,
};

// The JSON spelling of a type ("long_text").
const char* question_type_name(QuestionType type);

enum class AttachmentKind { kAudio, kPhoto, kDocument };

// The JSON spelling of an attachment kind ("photo").
const char* attachment_kind_name(AttachmentKind kind);

struct Choice {
  std::string value;    // [A-Za-z0-9_-]{1,64}, unique within the question
  LocalizedText label;  // required
};

// Rules on an answer; which ones a question may carry depends on its type.
struct Constraint {
  std::optional<double> min;  // integer, decimal: inclusive bounds
  std::optional<double> max;
  std::optional<std::string> min_date;  // date: inclusive bounds "YYYY-MM-DD" (JSON "min"/"max")
  std::optional<std::string> max_date;
  std::optional<size_t> min_length;  // text, long_text: in Unicode code points
  std::optional<size_t> max_length;
  std::optional<std::string> pattern;  // text: ECMAScript regex the whole answer must match
  std::shared_ptr<const std::regex> compiled_pattern;  // set exactly when pattern is
  std::optional<size_t> min_choices;                   // multiple_choice
  std::optional<size_t> max_choices;
  LocalizedText message;  // shown on violation; empty when the form gives none
};

struct Question {
  std::string id;  // [a-z][a-z0-9_]{0,63}, unique in the whole form
  QuestionType type = QuestionType::kText;
  LocalizedText label;
  LocalizedText hint;        // empty when absent
  bool required = false;     // never set on repeats (they use min_count)
  bool identifying = false;  // the answer can identify a person: exports and reports honour it
  std::optional<Expression> relevant;  // asked only when this holds; absent means always
  Constraint constraint;
  std::vector<Choice> choices;         // single_choice, multiple_choice: at least one
  std::vector<AttachmentKind> accept;  // attachment: at least one, no duplicates
  std::vector<Question> questions;     // repeat: the questions of one instance
  std::optional<size_t> min_count;     // repeat: number of instances, checked when final
  std::optional<size_t> max_count;

  bool is_repeat() const { return type == QuestionType::kRepeat; }
  // The choice with this value, or nullptr.
  const Choice* find_choice(std::string_view value) const;
};

struct Form {
  std::string id;        // 1..64 chars of [A-Za-z0-9._-]
  uint64_t version = 0;  // >= 1, increases with every published change
  LocalizedText title;
  std::vector<Language> languages;  // at least one, codes unique
  std::string default_language;     // one of languages
  std::vector<Question> questions;
  std::string source_text;  // the JSON text this form was parsed from, byte for byte

  // `text` in `language`, falling back to the default language (always present after parsing).
  const std::string& text(const LocalizedText& text, std::string_view language) const;
  // The declared language with this code, or nullptr.
  const Language* find_language(std::string_view code) const;
  // The question with this id at any depth, or nullptr.
  const Question* find_question(std::string_view question_id) const;
};

// Parses and checks a form definition. On failure the error (kInvalidArgument) lists every
// problem found, one per line, each as "<source_name>: question 'q3': <field>: <explanation>"
// (or "<source_name>: <field>: ..." for top-level fields).
Result<Form> parse_form(std::string_view json_text, const std::string& source_name);

}  // namespace satchel::form
