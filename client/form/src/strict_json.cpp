#include "strict_json.h"

#include <set>
#include <vector>

namespace satchel::form::detail {
namespace {

// Tracks the keys of every open object to spot duplicates, and where they are.
class DuplicateKeyFinder {
 public:
  bool operator()(int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    switch (event) {
      case Event::object_start:
        frames_.push_back(Frame{true, {}, {}});
        break;
      case Event::array_start:
        frames_.push_back(Frame{false, {}, {}});
        break;
      case Event::object_end:
      case Event::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case Event::key: {
        std::string key = parsed.get<std::string>();
        if (!frames_.back().keys.insert(key).second && first_duplicate_.empty()) {
          first_duplicate_ = "key '" + key + "' appears twice in the same object" + place();
        }
        frames_.back().last_key = std::move(key);
        break;
      }
      case Event::value:
        break;
    }
    return true;
  }

  const std::string& first_duplicate() const { return first_duplicate_; }

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string last_key;
  };

  // " (in questions[].label)": the path of keys down to the current object.
  std::string place() const {
    std::string path;
    for (size_t i = 0; i + 1 < frames_.size(); ++i) {
      if (frames_[i].object) {
        path += (path.empty() ? "" : ".") + frames_[i].last_key;
      } else {
        path += "[]";
      }
    }
    return path.empty() ? "" : " (in " + path + ")";
  }

  std::vector<Frame> frames_;
  std::string first_duplicate_;
};

// nlohmann's message without its "[json.exception.parse_error.101] " tag.
std::string without_tag(const char* what) {
  std::string m = what;
  size_t end = m.find("] ");
  return end == std::string::npos ? m : m.substr(end + 2);
}

}  // namespace

Result<nlohmann::json> parse_strict_json(std::string_view text, const std::string& source_name,
                                         size_t max_bytes) {
  if (text.size() > max_bytes) {
    return make_error(Errc::kInvalidArgument, source_name + ": " + std::to_string(text.size()) +
                                                  " bytes, over the limit of " +
                                                  std::to_string(max_bytes));
  }
  DuplicateKeyFinder duplicates;
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text.begin(), text.end(), std::ref(duplicates));
  } catch (const nlohmann::json::exception& e) {
    return make_error(Errc::kInvalidArgument,
                      source_name + ": not valid JSON: " + without_tag(e.what()));
  }
  if (!duplicates.first_duplicate().empty()) {
    return make_error(Errc::kInvalidArgument,
                      source_name + ": not accepted: " + duplicates.first_duplicate());
  }
  return value;
}

}  // namespace satchel::form::detail
