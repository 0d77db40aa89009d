#include "question_path.h"

#include <charconv>

#include "text_rules.h"

namespace satchel::form::detail {
namespace {

Error bad_path(std::string_view path, const std::string& why) {
  return make_error(Errc::kInvalidArgument, "question path '" + std::string(path) + "': " + why);
}

Result<PathSegment> parse_segment(std::string_view path, std::string_view text) {
  PathSegment s;
  size_t open = text.find('[');
  s.id = std::string(text.substr(0, open));
  if (!is_question_id(s.id)) return bad_path(path, "'" + s.id + "' is not a question id");
  if (open == std::string_view::npos) return s;
  std::string_view digits = text.substr(open + 1);
  if (digits.empty() || digits.back() != ']' || digits.size() > 10) {
    return bad_path(path, "malformed instance index after '" + s.id + "'");
  }
  digits.remove_suffix(1);
  size_t index = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
    return bad_path(path, "malformed instance index after '" + s.id + "'");
  }
  s.index = index;
  return s;
}

}  // namespace

std::string child_path(const std::string& parent, std::string_view id) {
  return parent.empty() ? std::string(id) : parent + "." + std::string(id);
}

std::string instance_path(const std::string& repeat_path, size_t index) {
  return repeat_path + "[" + std::to_string(index) + "]";
}

Result<std::vector<PathSegment>> parse_question_path(const Form& form, std::string_view path) {
  std::vector<PathSegment> segments;
  const std::vector<Question>* level = &form.questions;
  std::string_view rest = path;
  while (true) {
    size_t dot = rest.find('.');
    auto segment = parse_segment(path, rest.substr(0, dot));
    if (!segment.ok()) return segment.error();
    bool last = dot == std::string_view::npos;
    const Question* q = nullptr;
    for (const Question& candidate : *level) {
      if (candidate.id == segment->id) q = &candidate;
    }
    if (!q) return bad_path(path, "no question '" + segment->id + "' at this level of the form");
    if (last && segment->index) return bad_path(path, "ends with an instance index");
    if (!last && (!q->is_repeat() || !segment->index)) {
      return bad_path(path, "'" + segment->id + "' must be a repeat followed by [index]");
    }
    segments.push_back(std::move(segment.value()));
    if (last) return segments;
    level = &q->questions;
    rest.remove_prefix(dot + 1);
  }
}

std::string render_path(const std::vector<PathSegment>& segments) {
  std::string path;
  for (const PathSegment& s : segments) {
    path = child_path(path, s.id);
    if (s.index) path = instance_path(path, *s.index);
  }
  return path;
}

nlohmann::json* parent_object(nlohmann::json& answers, const std::vector<PathSegment>& segments) {
  nlohmann::json* at = &answers;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    if (!at->is_object()) return nullptr;
    auto group = at->find(segments[i].id);
    if (group == at->end() || !group->is_array() || *segments[i].index >= group->size()) {
      return nullptr;
    }
    at = &(*group)[*segments[i].index];
  }
  return at->is_object() ? at : nullptr;
}

}  // namespace satchel::form::detail
