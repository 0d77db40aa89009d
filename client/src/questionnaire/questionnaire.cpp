// run_questionnaire: the question-by-question loop. Each turn shows one position (a question, a
// repeat's "add another entry?" gate, or the end), reads one line, and either runs a command,
// refuses the input with a message, or stores the answer after draft validation and moves on.
// Relevance comes from a fresh list_steps every turn.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "questionnaire/questionnaire.h"
#include "questionnaire/questionnaire_input.h"
#include "questionnaire/questionnaire_navigation.h"
#include "questionnaire/questionnaire_paths.h"
#include "questionnaire/questionnaire_screen.h"
#include "questionnaire/questionnaire_terminal.h"
#include "satchel/form/relevance.h"
#include "satchel/form/steps.h"
#include "satchel/form/validate.h"

namespace satchel::cli {
namespace {

enum class Next { kAsk, kSave, kAbandon, kComplete };

enum class Command { kNone, kBack, kSkip, kSave, kQuit, kHelp, kLang, kRemove, kUnknown };

struct Typed {
  Command command = Command::kNone;
  std::string argument;
};

// ":back" and friends; "::x" is the answer ":x", anything else is an answer.
Typed classify(std::string_view line) {
  std::string_view t = trim(line);
  if (!t.starts_with(':') || t.starts_with("::")) return {};
  std::string_view rest = t.substr(1);
  const size_t space = rest.find(' ');
  std::string_view word = rest.substr(0, space);
  std::string argument(space == std::string_view::npos ? std::string_view{}
                                                       : trim(rest.substr(space + 1)));
  static constexpr std::pair<std::string_view, Command> kCommands[] = {
      {"back", Command::kBack},    {"skip", Command::kSkip}, {"save", Command::kSave},
      {"quit", Command::kQuit},    {"help", Command::kHelp}, {"lang", Command::kLang},
      {"remove", Command::kRemove}};
  for (const auto& [name, command] : kCommands)
    if (word == name) return {command, argument};
  return {Command::kUnknown, std::string(word)};
}

// The answer text of a line: "::x" stands for ":x".
void unescape(std::string& line) {
  size_t first = line.find_first_not_of(" \t");
  if (first != std::string::npos && line.compare(first, 2, "::") == 0) line.erase(first, 1);
}

class Questionnaire {
 public:
  Questionnaire(const form::Form& f, nlohmann::json& answers, TerminalSession& term)
      : form_(f),
        answers_(answers),
        initial_(answers),
        term_(term),
        language_(f.default_language) {}
  ~Questionnaire() { qpath::wipe_strings(initial_); }
  Questionnaire(const Questionnaire&) = delete;
  Questionnaire& operator=(const Questionnaire&) = delete;

  QuestionnaireOutcome run();

 private:
  void refresh() { steps_ = form::list_steps(form_, answers_); }
  // Clears the screen and shows the header, `body`, pending notes and `prompt`; wipes `body`.
  void show(std::string body, const std::string& prompt);
  // Reads a line; false when the session must end (signal or terminal gone).
  bool read(std::string& line);

  Next ask_question(size_t index);
  Next ask_repeat(size_t index);
  Next ask_gate();
  Next ask_end();

  Next run_command(const Typed& typed);
  Next store(size_t index, nlohmann::json value);
  Next add_entry(const std::string& repeat_path, const form::Question& repeat);
  Next no_more_entries(const std::string& repeat_path, const form::Question& repeat);
  Next confirm_quit();
  Next remove_entry();
  Next show_help();
  std::optional<nlohmann::json> read_long_text(std::string first_line, bool& interrupted);
  std::optional<nlohmann::json> read_location(const std::string& place, bool& interrupted);
  std::vector<form::AnswerIssue> final_issues(const nlohmann::json& answers) const;
  void replace_answers(nlohmann::json replacement);

  const form::Form& form_;
  nlohmann::json& answers_;
  nlohmann::json initial_;  // to undo everything on ":quit"
  TerminalSession& term_;
  std::string language_;
  std::vector<form::Step> steps_;
  Position pos_;
  std::vector<std::string> notes_;  // shown once, on the next screen
};

QuestionnaireOutcome Questionnaire::run() {
  if (!answers_.is_object()) {
    replace_answers(nlohmann::json::object());
    initial_ = answers_;
  }
  refresh();
  pos_ = first_position(steps_);
  for (;;) {
    Next next = Next::kSave;
    if (!term_.interrupted()) {
      refresh();
      if (pos_.kind == Position::Kind::kEnd) {
        next = ask_end();
      } else if (pos_.kind == Position::Kind::kGate) {
        next = ask_gate();
      } else if (auto index = find_step(steps_, pos_.path); index && steps_[*index].relevant) {
        next = ask_question(*index);
      } else {  // gone with a removed entry, or no longer relevant: start from the top
        pos_ = first_position(steps_);
        continue;
      }
    }
    switch (next) {
      case Next::kAsk:
        continue;
      case Next::kSave:
        replace_answers(form::prune_irrelevant(form_, answers_));
        return {false, false};
      case Next::kAbandon:
        replace_answers(std::move(initial_));
        return {false, true};
      case Next::kComplete:
        return {true, false};
    }
  }
}

void Questionnaire::replace_answers(nlohmann::json replacement) {
  qpath::wipe_strings(answers_);
  answers_ = std::move(replacement);
}

void Questionnaire::show(std::string body, const std::string& prompt) {
  std::string screen = screen_header(form_, language_, progress(steps_, pos_), pos_.path);
  ScrubOnExit scrub_screen(screen), scrub_body(body);
  screen += body;
  if (!notes_.empty()) screen += "\n";
  for (auto& note : notes_) {
    screen += "! " + note + "\n";
    scrub(note);  // messages may quote an answer
  }
  notes_.clear();
  screen += "\n[" + commands_line() + "]\n" + prompt;
  term_.clear_screen();
  term_.write(screen);
}

bool Questionnaire::read(std::string& line) {
  return term_.read_line(line) == ReadStatus::kLine;
}

Next Questionnaire::run_command(const Typed& typed) {
  switch (typed.command) {
    case Command::kBack:
      if (auto back = back_from(steps_, pos_)) {
        pos_ = *back;
      } else {
        notes_.push_back("This is the first question.");
      }
      return Next::kAsk;
    case Command::kSave:
      return Next::kSave;
    case Command::kQuit:
      return confirm_quit();
    case Command::kHelp:
      return show_help();
    case Command::kRemove:
      return remove_entry();
    case Command::kLang: {
      if (const form::Language* l = form_.find_language(typed.argument)) {
        language_ = l->code;
        notes_.push_back("Language: " + l->name);
      } else {
        std::string list;
        for (const auto& lang : form_.languages) list += " " + lang.code + " (" + lang.name + ")";
        notes_.push_back((typed.argument.empty()
                              ? "Type :lang CODE, one of:"
                              : "No language '" + typed.argument + "'; this form has:") +
                         list);
      }
      return Next::kAsk;
    }
    case Command::kSkip:
      notes_.push_back("There is nothing to skip here.");
      return Next::kAsk;
    case Command::kUnknown:
      notes_.push_back("Unknown command ':" + typed.argument +
                       "' (type :help; an answer starting with ':' is typed with '::')");
      return Next::kAsk;
    case Command::kNone:
      break;
  }
  return Next::kAsk;
}

Next Questionnaire::ask_question(size_t index) {
  const form::Step& step = steps_[index];
  const form::Question& q = *step.question;
  if (q.is_repeat()) return ask_repeat(index);
  show(question_text(form_, step, language_), "> ");
  std::string line;
  ScrubOnExit scrub_line(line);
  if (!read(line)) return Next::kSave;
  Typed typed = classify(line);
  if (typed.command == Command::kSkip) {
    if (q.required) {
      notes_.push_back(
          "This question is required and cannot be skipped (:save keeps a draft to finish later).");
      return Next::kAsk;
    }
    // Attachments are added with `satchel attach`; skipping must not drop their references.
    if (q.type != form::QuestionType::kAttachment) qpath::erase(answers_, step.path);
    refresh();
    pos_ = forward_from(steps_, answers_, index);
    return Next::kAsk;
  }
  if (typed.command != Command::kNone) return run_command(typed);
  unescape(line);
  const bool empty =
      trim(line).empty() || (q.type == form::QuestionType::kLongText && trim(line) == ".");
  if (q.type == form::QuestionType::kAttachment || (empty && !form::is_unanswered(step.answer)) ||
      (empty && !q.required)) {
    pos_ = forward_from(steps_, answers_, index);
    return Next::kAsk;
  }
  if (empty) {
    notes_.push_back("This question is required: type an answer (or :save to finish later).");
    return Next::kAsk;
  }
  std::optional<nlohmann::json> value;
  bool interrupted = false;
  if (q.type == form::QuestionType::kLongText) {
    value = read_long_text(std::move(line), interrupted);
  } else if (q.type == form::QuestionType::kLocation) {
    value = read_location(line, interrupted);
  } else if (auto parsed = parse_answer(q, line); parsed.ok()) {
    value = std::move(parsed.value());
  } else {
    notes_.push_back(parsed.error().message);
  }
  if (!value) return interrupted ? Next::kSave : Next::kAsk;
  Next next = store(index, std::move(*value));
  return interrupted ? Next::kSave : next;
}

// Lines until one holding only "."; on Ctrl-C the lines already entered are kept (testimony
// typed so far must not be lost), without the line being typed.
std::optional<nlohmann::json> Questionnaire::read_long_text(std::string first_line,
                                                            bool& interrupted) {
  std::string text = std::move(first_line), line;
  ScrubOnExit scrub_text(text), scrub_line(line);
  text.reserve(4096);
  for (;;) {
    if (!read(line)) {
      interrupted = true;
      break;
    }
    if (trim(line) == ".") break;
    text += "\n";
    text += line;
  }
  return nlohmann::json(text);
}

std::optional<nlohmann::json> Questionnaire::read_location(const std::string& place,
                                                           bool& interrupted) {
  term_.write("Coordinates as lat,lon (optional; Enter to leave them out): ");
  std::string coordinates;
  ScrubOnExit scrub_coordinates(coordinates);
  if (!read(coordinates)) {
    interrupted = true;
    return std::nullopt;
  }
  auto location = parse_location(place, coordinates);
  if (!location) {
    notes_.push_back(location.error().message);
    return std::nullopt;
  }
  return std::move(location.value());
}

// Keeps the answer when draft validation finds nothing wrong with it; otherwise restores the
// previous answer and shows each issue, naming its rule.
Next Questionnaire::store(size_t index, nlohmann::json value) {
  const std::string path = steps_[index].path;
  const form::Question& q = *steps_[index].question;
  const nlohmann::json* old = qpath::find(answers_, path);
  std::optional<nlohmann::json> previous;
  if (old) previous = *old;
  const bool refused_consent =
      q.type == form::QuestionType::kConsent && q.required && value == false;
  qpath::set(answers_, path, std::move(value));
  std::vector<std::string> problems;
  for (const auto& issue :
       form::validate_answers(form_, answers_, form::ValidationMode::kDraft, language_))
    if (issue.path == path || qpath::is_within(issue.path, path))
      problems.push_back(issue_text(form_, issue, language_, false));
  if (!problems.empty()) {
    if (previous) {
      qpath::set(answers_, path, std::move(*previous));
    } else {
      qpath::erase(answers_, path);
    }
    notes_.insert(notes_.end(), problems.begin(), problems.end());
    return Next::kAsk;
  }
  if (previous) qpath::wipe_strings(*previous);
  if (refused_consent)
    notes_.push_back("Consent was refused: this record cannot be completed without it.");
  refresh();
  auto moved = find_step(steps_, path);
  pos_ = moved ? forward_from(steps_, answers_, *moved) : first_position(steps_);
  return Next::kAsk;
}

Next Questionnaire::ask_repeat(size_t index) {
  const form::Step& step = steps_[index];
  const form::Question& q = *step.question;
  const std::string path = step.path;
  const std::string label = form_.text(q.label, language_);
  const size_t count = qpath::instance_count(answers_, path);
  std::string body = label + "\n";
  if (!q.hint.empty()) body += "  " + form_.text(q.hint, language_) + "\n";
  body += "\nSo far: " + entries_text(count);
  if (q.min_count) body += "  (at least " + std::to_string(*q.min_count) + ")";
  if (q.max_count) body += "  (at most " + std::to_string(*q.max_count) + ")";
  body += "\n";
  const std::string prompt = count == 0 ? "add an entry to " + label + "? (y/n) "
                                        : "Enter: go through the " + entries_text(count) +
                                              "   y: add an entry   n: go past them\n> ";
  show(std::move(body), prompt);
  std::string line;
  ScrubOnExit scrub_line(line);
  if (!read(line)) return Next::kSave;
  Typed typed = classify(line);
  if (typed.command == Command::kSkip) return no_more_entries(path, q);
  if (typed.command != Command::kNone) return run_command(typed);
  if (trim(line).empty()) {
    if (count == 0) return no_more_entries(path, q);
    pos_ = forward_from(steps_, answers_, index);
    return Next::kAsk;
  }
  auto yes = parse_yes_no(line);
  if (!yes) {
    notes_.push_back("type y or n");
    return Next::kAsk;
  }
  return *yes ? add_entry(path, q) : no_more_entries(path, q);
}

Next Questionnaire::ask_gate() {
  const std::string path = pos_.path;
  auto index = find_step(steps_, path);
  if (!index) {
    pos_ = first_position(steps_);
    return Next::kAsk;
  }
  const form::Question& q = *steps_[*index].question;
  const std::string label = form_.text(q.label, language_);
  const size_t count = qpath::instance_count(answers_, path);
  if (q.max_count && count >= *q.max_count) {
    notes_.push_back(label + ": the form takes at most " + entries_text(*q.max_count) + ".");
    pos_ = past_repeat(steps_, answers_, path);
    return Next::kAsk;
  }
  show(label + "\n\nSo far: " + entries_text(count) + "\n",
       "add another entry to " + label + "? (y/n) ");
  std::string line;
  ScrubOnExit scrub_line(line);
  if (!read(line)) return Next::kSave;
  Typed typed = classify(line);
  if (typed.command == Command::kSkip || trim(line).empty()) return no_more_entries(path, q);
  if (typed.command != Command::kNone) return run_command(typed);
  auto yes = parse_yes_no(line);
  if (!yes) {
    notes_.push_back("type y or n");
    return Next::kAsk;
  }
  return *yes ? add_entry(path, q) : no_more_entries(path, q);
}

Next Questionnaire::add_entry(const std::string& repeat_path, const form::Question& repeat) {
  const size_t count = qpath::instance_count(answers_, repeat_path);
  if (repeat.max_count && count >= *repeat.max_count) {
    notes_.push_back(form_.text(repeat.label, language_) + " takes at most " +
                     entries_text(*repeat.max_count) + ".");
    return Next::kAsk;
  }
  size_t added = qpath::add_instance(answers_, repeat_path);
  refresh();
  if (auto start = entry_start(steps_, repeat_path, added)) {
    pos_ = *start;
  } else {
    notes_.push_back("No question of this entry applies.");
    pos_ = Position::gate(repeat_path);
  }
  return Next::kAsk;
}

Next Questionnaire::no_more_entries(const std::string& repeat_path, const form::Question& repeat) {
  const size_t count = qpath::instance_count(answers_, repeat_path);
  if (repeat.min_count && count < *repeat.min_count) {
    notes_.push_back(form_.text(repeat.label, language_) + " needs at least " +
                     entries_text(*repeat.min_count) + " (it has " + std::to_string(count) + ").");
    return Next::kAsk;
  }
  pos_ = past_repeat(steps_, answers_, repeat_path);
  return Next::kAsk;
}

// Final validation as `satchel record --answers` applies it: attachment files are added after
// saving (satchel attach), so a required attachment cannot hold the record back here.
std::vector<form::AnswerIssue> Questionnaire::final_issues(const nlohmann::json& answers) const {
  auto issues = form::validate_answers(form_, answers, form::ValidationMode::kFinal, language_);
  std::erase_if(issues, [&](const form::AnswerIssue& i) {
    const form::Question* q = form_.find_question(qpath::last_id(i.path));
    return i.rule == form::Rule::kRequired && q && q->type == form::QuestionType::kAttachment;
  });
  return issues;
}

Next Questionnaire::ask_end() {
  nlohmann::json pruned = form::prune_irrelevant(form_, answers_);
  auto issues = final_issues(pruned);
  qpath::wipe_strings(pruned);
  std::string line;
  ScrubOnExit scrub_line(line);
  if (issues.empty()) {
    show("End of the form: every answer is valid.\n",
         "Press Enter to save the record (or :back to review) ");
    if (!read(line)) return Next::kSave;
    Typed typed = classify(line);
    if (typed.command != Command::kNone) return run_command(typed);
    if (!trim(line).empty()) {
      notes_.push_back("Press Enter to save the record, or type :back to review.");
      return Next::kAsk;
    }
    replace_answers(form::prune_irrelevant(form_, answers_));
    return Next::kComplete;
  }
  std::string body = "End of the form. Before this record is complete:\n\n";
  for (const auto& issue : issues)
    body += "  - " + issue_text(form_, issue, language_, true) + "\n";
  show(std::move(body), "Enter: go to the first problem   s: save as a draft\n> ");
  if (!read(line)) return Next::kSave;
  Typed typed = classify(line);
  if (typed.command != Command::kNone) return run_command(typed);
  std::string_view t = trim(line);
  if (t == "s" || t == "S") return Next::kSave;
  if (!t.empty()) {
    notes_.push_back("Press Enter to go to the first problem, or type s to save a draft.");
    return Next::kAsk;
  }
  for (const auto& issue : issues) {
    // An issue about a whole repeat entry ("household[1]") is fixed from the repeat's step.
    std::string path = issue.path;
    if (!path.empty() && path.back() == ']') path = qpath::split_instance(path).repeat_path;
    if (auto index = find_step(steps_, path); index && steps_[*index].relevant) {
      pos_ = Position::step(path);
      return Next::kAsk;
    }
  }
  notes_.push_back("These problems cannot be fixed from here: type s to save a draft.");
  return Next::kAsk;
}

Next Questionnaire::confirm_quit() {
  if (answers_ == initial_) return Next::kAbandon;
  show("The changes made in this session will be lost.\n", "Leave without saving? (y/n) ");
  std::string line;
  ScrubOnExit scrub_line(line);
  if (!read(line)) return Next::kSave;
  if (parse_yes_no(line).value_or(false)) return Next::kAbandon;
  notes_.push_back("Not left: carry on, or :save to keep a draft.");
  return Next::kAsk;
}

Next Questionnaire::remove_entry() {
  auto entries = pos_.kind == Position::Kind::kStep ? qpath::enclosing_instances(pos_.path)
                                                    : std::vector<std::string>{};
  if (entries.empty()) {
    notes_.push_back(":remove works inside an entry of a repeated group.");
    return Next::kAsk;
  }
  qpath::Instance entry = qpath::split_instance(entries.front());
  const std::string label = label_at(form_, entry.repeat_path, language_);
  show("Remove entry " + std::to_string(entry.index + 1) + " of " + label +
           " and all its answers?\n",
       "Remove it? (y/n) ");
  std::string line;
  ScrubOnExit scrub_line(line);
  if (!read(line)) return Next::kSave;
  if (!parse_yes_no(line).value_or(false)) {
    notes_.push_back("Nothing removed.");
    return Next::kAsk;
  }
  qpath::remove_instance(answers_, entry.repeat_path, entry.index);
  refresh();
  pos_ = Position::step(entry.repeat_path);
  notes_.push_back("Entry " + std::to_string(entry.index + 1) + " of " + label + " removed.");
  return Next::kAsk;
}

Next Questionnaire::show_help() {
  show(help_text(form_), "Press Enter to return to the question ");
  std::string line;
  ScrubOnExit scrub_line(line);
  return read(line) ? Next::kAsk : Next::kSave;
}

}  // namespace

Result<QuestionnaireOutcome> run_questionnaire(const form::Form& form, nlohmann::json& answers) {
  auto term = TerminalSession::open();
  if (!term) return term.error();
  try {
    Questionnaire q(form, answers, **term);
    return q.run();
  } catch (const std::exception& e) {
    // The session's destructor restores the terminal; the caller saves nothing on failure.
    return make_error(Errc::kInternal, std::string("questionnaire failed: ") + e.what());
  }
}

}  // namespace satchel::cli
