// parse_form: the top level of a form definition (id, version, title, languages) and the order
// of the checks; questions are read by question_parser.cpp, references by references.cpp.
#include <set>

#include "field_reader.h"
#include "question_parser.h"
#include "references.h"
#include "satchel/form/form.h"
#include "strict_json.h"
#include "text_rules.h"

namespace satchel::form {
namespace {

// Largest integer every JSON implementation represents exactly (2^53 - 1).
constexpr uint64_t kMaxVersion = 9007199254740991ULL;

std::vector<Language> read_languages(detail::FieldReader& top, detail::Problems& problems) {
  std::vector<Language> languages;
  const nlohmann::json* list = top.find("languages", true);
  if (!list) return languages;
  if (!list->is_array() || list->empty()) {
    top.problem("languages", "must be a non-empty array of {code, name, rtl}");
    return languages;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < list->size(); ++i) {
    detail::FieldReader l((*list)[i], "", "languages[" + std::to_string(i) + "].", problems);
    l.allow_only({"code", "name", "rtl"});
    Language language;
    std::optional<std::string> code = l.string("code", true);
    if (code && !detail::is_language_code(*code)) {
      l.problem("code", detail::in_quotes(*code) +
                            " is not a BCP 47 language tag such as \"en\" or \"pt-BR\"");
    } else if (code && !seen.insert(*code).second) {
      l.problem("code", detail::in_quotes(*code) + " is declared twice");
    }
    language.code = code.value_or("");
    language.name = l.string("name", true).value_or("");
    if (l.is_object() && l.find("name") && language.name.empty()) {
      l.problem("name", "must not be empty");
    }
    language.rtl = l.boolean("rtl", true).value_or(false);
    languages.push_back(std::move(language));
  }
  return languages;
}

std::optional<uint64_t> read_version(detail::FieldReader& top) {
  const nlohmann::json* v = top.find("version", true);
  if (!v) return std::nullopt;
  bool positive = v->is_number_unsigned() || (v->is_number_integer() && v->get<int64_t>() > 0);
  if (!positive || v->get<uint64_t>() == 0 || v->get<uint64_t>() > kMaxVersion) {
    top.problem("version", "must be an integer from 1 to " + std::to_string(kMaxVersion) +
                               ", not " + detail::json_excerpt(*v));
    return std::nullopt;
  }
  return v->get<uint64_t>();
}

}  // namespace

Result<Form> parse_form(std::string_view json_text, const std::string& source_name) {
  auto json = detail::parse_strict_json(json_text, source_name, kMaxFormBytes);
  if (!json.ok()) return json.error();
  const nlohmann::json& root = json.value();

  detail::Problems problems(source_name);
  detail::FieldReader top(root, "", "", problems);
  if (!top.is_object()) return problems.error();
  top.allow_only({"id", "version", "title", "languages", "default_language", "questions"});

  Form form;
  form.source_text = std::string(json_text);
  form.id = top.string("id", true).value_or("");
  if (top.find("id") && !detail::is_form_id(form.id)) {
    top.problem("id", detail::in_quotes(form.id) + " is not 1 to 64 characters of [A-Za-z0-9._-]");
  }
  form.version = read_version(top).value_or(0);
  form.languages = read_languages(top, problems);
  form.default_language = top.string("default_language", true).value_or("");
  if (top.find("default_language") && !form.find_language(form.default_language)) {
    top.problem("default_language",
                detail::in_quotes(form.default_language) + " is not in languages");
  }

  detail::FormContext ctx{form.languages, form.default_language, problems, 0};
  form.title = detail::read_localized(top, "title", true, ctx);
  const nlohmann::json* questions = top.find("questions", true);
  if (questions && (!questions->is_array() || questions->empty())) {
    top.problem("questions", "must be a non-empty array of questions");
  } else if (questions) {
    form.questions = detail::read_questions(*questions, "questions", 0, ctx);
    if (ctx.question_count > kMaxQuestions) {
      top.problem("questions", "the form has " + std::to_string(ctx.question_count) +
                                   " questions, over the limit of " +
                                   std::to_string(kMaxQuestions));
    } else {
      detail::check_ids_and_relevance(form.questions, *questions, problems);
    }
  }
  if (!problems.empty()) return problems.error();
  return form;
}

}  // namespace satchel::form
