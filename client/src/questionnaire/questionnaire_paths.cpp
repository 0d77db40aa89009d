// Answer paths: the small walk over the answers document that reading and writing one answer
// needs. Paths come from list_steps and validate_answers, so they are well formed; what may be
// missing is an answer or an instance, which every function here tolerates.
#include "questionnaire/questionnaire_paths.h"

#include <charconv>
#include <optional>

#include "satchel/crypto/secret.h"

namespace satchel::cli::qpath {
namespace {

struct Segment {
  std::string_view id;
  std::optional<size_t> index;
};

std::vector<Segment> segments(std::string_view path) {
  std::vector<Segment> out;
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string_view part = path.substr(0, dot);
    Segment s;
    size_t open = part.find('[');
    s.id = part.substr(0, open);
    if (open != std::string_view::npos) {
      size_t index = 0;
      std::from_chars(part.data() + open + 1, part.data() + part.size(), index);
      s.index = index;
    }
    out.push_back(s);
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  }
  return out;
}

// The object that holds the last segment's answer, made an object if it was null; nullptr when an
// instance on the way is missing or the document has an unexpected shape there.
nlohmann::json* parent_object(nlohmann::json& answers, const std::vector<Segment>& segs) {
  if (answers.is_null()) answers = nlohmann::json::object();
  nlohmann::json* node = &answers;
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    if (!node->is_object() || !segs[i].index) return nullptr;
    auto it = node->find(segs[i].id);
    if (it == node->end() || !it->is_array() || it->size() <= *segs[i].index) return nullptr;
    node = &(*it)[*segs[i].index];
    if (node->is_null()) *node = nlohmann::json::object();
  }
  return node->is_object() ? node : nullptr;
}

}  // namespace

bool is_within(std::string_view path, std::string_view scope) {
  return path.size() > scope.size() && path.starts_with(scope) &&
         (path[scope.size()] == '.' || path[scope.size()] == '[');
}

std::vector<std::string> enclosing_instances(std::string_view path) {
  std::vector<std::string> out;
  for (size_t i = path.find(']'); i != std::string_view::npos; i = path.find(']', i + 1)) {
    if (i + 1 < path.size()) out.insert(out.begin(), std::string(path.substr(0, i + 1)));
  }
  return out;
}

Instance split_instance(std::string_view instance_path) {
  Instance out;
  size_t open = instance_path.rfind('[');
  out.repeat_path = std::string(instance_path.substr(0, open));
  std::from_chars(instance_path.data() + open + 1, instance_path.data() + instance_path.size(),
                  out.index);
  return out;
}

std::string_view last_id(std::string_view path) {
  size_t dot = path.rfind('.');
  std::string_view id = dot == std::string_view::npos ? path : path.substr(dot + 1);
  return id.substr(0, id.find('['));
}

const nlohmann::json* find(const nlohmann::json& answers, std::string_view path) {
  const nlohmann::json* node = &answers;
  for (const Segment& s : segments(path)) {
    if (!node->is_object()) return nullptr;
    auto it = node->find(s.id);
    if (it == node->end()) return nullptr;
    node = &*it;
    if (s.index) {
      if (!node->is_array() || node->size() <= *s.index) return nullptr;
      node = &(*node)[*s.index];
    }
  }
  return node;
}

bool set(nlohmann::json& answers, std::string_view path, nlohmann::json value) {
  auto segs = segments(path);
  nlohmann::json* parent = segs.empty() ? nullptr : parent_object(answers, segs);
  if (!parent) return false;
  nlohmann::json& slot = (*parent)[std::string(segs.back().id)];
  wipe_strings(slot);
  slot = std::move(value);
  return true;
}

void erase(nlohmann::json& answers, std::string_view path) {
  auto segs = segments(path);
  nlohmann::json* parent = segs.empty() ? nullptr : parent_object(answers, segs);
  if (!parent) return;
  auto it = parent->find(segs.back().id);
  if (it == parent->end()) return;
  wipe_strings(*it);
  parent->erase(it);
}

size_t instance_count(const nlohmann::json& answers, std::string_view repeat_path) {
  const nlohmann::json* a = find(answers, repeat_path);
  return a && a->is_array() ? a->size() : 0;
}

size_t add_instance(nlohmann::json& answers, std::string_view repeat_path) {
  auto segs = segments(repeat_path);
  nlohmann::json* parent = segs.empty() ? nullptr : parent_object(answers, segs);
  if (!parent) return 0;
  nlohmann::json& list = (*parent)[std::string(segs.back().id)];
  if (!list.is_array()) list = nlohmann::json::array();
  list.push_back(nlohmann::json::object());
  return list.size() - 1;
}

void remove_instance(nlohmann::json& answers, std::string_view repeat_path, size_t index) {
  auto segs = segments(repeat_path);
  nlohmann::json* parent = segs.empty() ? nullptr : parent_object(answers, segs);
  if (!parent) return;
  auto it = parent->find(segs.back().id);
  if (it == parent->end() || !it->is_array() || index >= it->size()) return;
  wipe_strings((*it)[index]);
  it->erase(index);
}

void wipe_strings(nlohmann::json& value) {
  if (value.is_string()) {
    auto& s = value.get_ref<std::string&>();
    wipe(s.data(), s.size());
  } else if (value.is_structured()) {
    for (auto& item : value) wipe_strings(item);
  }
}

}  // namespace satchel::cli::qpath
