#include "scope.h"

#include <cmath>

#include "satchel/form/relevance.h"

namespace satchel::form::detail {

bool has_answer_shape(QuestionType type, const nlohmann::json& a) {
  switch (type) {
    case QuestionType::kText:
    case QuestionType::kLongText:
    case QuestionType::kDate:
    case QuestionType::kSingleChoice:
      return a.is_string();
    case QuestionType::kInteger:
      return a.is_number_integer() && (!a.is_number_unsigned() || a.get<uint64_t>() <= INT64_MAX);
    case QuestionType::kDecimal:
      return a.is_number() && std::isfinite(a.get<double>());
    case QuestionType::kYesNo:
    case QuestionType::kConsent:
      return a.is_boolean();
    case QuestionType::kMultipleChoice:
    case QuestionType::kAttachment:
    case QuestionType::kRepeat:
      return a.is_array();
    case QuestionType::kLocation:
      return a.is_object();
  }
  return false;
}

const nlohmann::json* Scope::answer(const Question& q) const {
  if (!answers_ || !answers_->is_object()) return nullptr;
  auto it = answers_->find(q.id);
  return it == answers_->end() || it->is_null() ? nullptr : &*it;
}

bool Scope::enter(const Question& q, bool group_relevant) {
  bool relevant = group_relevant;
  if (relevant && q.relevant) {
    relevant = q.relevant->holds([this](const std::string& id) { return lookup(id); });
  }
  entered_.insert_or_assign(q.id, Entered{&q, relevant});
  return relevant;
}

const nlohmann::json* Scope::lookup(const std::string& id) const {
  auto it = entered_.find(id);
  if (it == entered_.end()) return parent_ ? parent_->lookup(id) : nullptr;
  if (!it->second.relevant) return nullptr;
  const nlohmann::json* a = answer(*it->second.question);
  if (is_unanswered(a) || !has_answer_shape(it->second.question->type, *a)) return nullptr;
  return a;
}

}  // namespace satchel::form::detail
