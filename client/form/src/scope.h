// Relevance while walking answers in form order: one Scope per answers object (the top level or
// one repeat instance), chained to the scope of the enclosing instance. Private to satchel_form.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "satchel/form/form.h"

namespace satchel::form::detail {

class Scope {
 public:
  // `answers` is the object being walked, or nullptr (an instance that is missing or malformed).
  Scope(const nlohmann::json* answers, const Scope* parent) : answers_(answers), parent_(parent) {}

  // The raw answer to `q` in this object, or nullptr when the key is absent or null.
  const nlohmann::json* answer(const Question& q) const;
  // Decides whether `q` is relevant here, given that its enclosing group is (or is not), and
  // remembers it for the expressions of later questions. Call in form order.
  bool enter(const Question& q, bool group_relevant);
  // What `${id}` reads from here: the answer, when its question was entered, is relevant, and
  // holds an answer of the right shape; nullptr otherwise.
  const nlohmann::json* lookup(const std::string& id) const;

 private:
  struct Entered {
    const Question* question;
    bool relevant;
  };
  const nlohmann::json* answers_;
  const Scope* parent_;
  std::map<std::string, Entered, std::less<>> entered_;
};

// True when `a` is a JSON value of the shape answers to `type` take (string, integer, array...),
// before any constraint.
bool has_answer_shape(QuestionType type, const nlohmann::json& a);

}  // namespace satchel::form::detail
