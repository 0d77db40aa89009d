#include "references.h"

#include <algorithm>
#include <map>

#include "question_parser.h"

namespace satchel::form::detail {
namespace {

// Where a question sits: its rank in document order and the repeats that contain it.
struct Place {
  size_t position = 0;
  std::vector<std::string> repeats;  // outermost first
  const Question* question = nullptr;
};

class ReferenceChecker {
 public:
  explicit ReferenceChecker(Problems& problems) : problems_(problems) {}

  void index(const std::vector<Question>& questions, const std::string& path,
             std::vector<std::string>& repeats) {
    for (size_t i = 0; i < questions.size(); ++i) {
      const Question& q = questions[i];
      std::string here = path + "[" + std::to_string(i) + "]";
      if (!q.id.empty()) {
        auto [it, fresh] = places_.emplace(q.id, Place{next_position_, repeats, &q});
        if (!fresh) {
          problems_.add(question_place(q, here), "id",
                        "is also the id of an earlier question; ids must be unique in the form");
        }
      }
      ++next_position_;
      if (q.is_repeat()) {
        repeats.push_back(q.id);
        index(q.questions, here + ".questions", repeats);
        repeats.pop_back();
      }
    }
  }

  void parse_all(std::vector<Question>& questions, const nlohmann::json& json,
                 const std::string& path) {
    for (size_t i = 0; i < questions.size() && i < json.size(); ++i) {
      Question& q = questions[i];
      std::string here = path + "[" + std::to_string(i) + "]";
      const nlohmann::json& j = json[i];
      if (j.is_object() && j.contains("relevant") && j["relevant"].is_string() &&
          !j["relevant"].get_ref<const std::string&>().empty()) {
        parse_relevant(q, j["relevant"].get<std::string>(), here);
      }
      if (q.is_repeat() && j.is_object() && j.contains("questions")) {
        parse_all(q.questions, j["questions"], here + ".questions");
      }
    }
  }

 private:
  void parse_relevant(Question& q, const std::string& text, const std::string& here) {
    auto self = places_.find(q.id);
    if (q.id.empty() || self == places_.end() || self->second.question != &q) return;
    const Place& from = self->second;
    auto e = parse_expression(text, [&](const std::string& id) { return resolve(from, id); });
    if (e.ok()) {
      q.relevant = std::move(e.value());
    } else {
      problems_.add(question_place(q, here), "relevant", e.error().message);
    }
  }

  // Applies the scoping rules of schema/form-format.md, "References".
  Result<const Question*> resolve(const Place& from, const std::string& id) const {
    auto refused = [&](const std::string& why) {
      return make_error(Errc::kInvalidArgument, "${" + id + "} " + why);
    };
    auto it = places_.find(id);
    if (it == places_.end()) return refused("is not a question of this form");
    const Place& to = it->second;
    if (to.question == from.question) return refused("is this question itself");
    if (std::find(from.repeats.begin(), from.repeats.end(), id) != from.repeats.end()) {
      return refused("is the repeat that contains this question");
    }
    if (to.position > from.position) {
      return refused("comes later in the form; only earlier questions may be referenced");
    }
    // Every repeat around the target must also be around this question: otherwise the target
    // has one answer per instance of a repeat this question is not in, and no single value.
    size_t shared = 0;
    while (shared < from.repeats.size() && shared < to.repeats.size() &&
           from.repeats[shared] == to.repeats[shared]) {
      ++shared;
    }
    if (shared < to.repeats.size()) {
      const std::string& group = to.repeats[shared];
      return refused("is inside repeat '" + group +
                     "', which does not contain this question; use count(${" + group + "})");
    }
    return to.question;
  }

  Problems& problems_;
  std::map<std::string, Place, std::less<>> places_;
  size_t next_position_ = 0;
};

}  // namespace

void check_ids_and_relevance(std::vector<Question>& questions, const nlohmann::json& questions_json,
                             Problems& problems) {
  ReferenceChecker checker(problems);
  std::vector<std::string> repeats;
  checker.index(questions, "questions", repeats);
  checker.parse_all(questions, questions_json, "questions");
}

}  // namespace satchel::form::detail
