// Screen text for the questionnaire. Right-to-left labels are written as they are: the terminal
// does the bidirectional layout.
#include "questionnaire/questionnaire_screen.h"

#include "questionnaire/questionnaire_input.h"
#include "questionnaire/questionnaire_paths.h"
#include "satchel/form/relevance.h"

namespace satchel::cli {

std::string label_at(const form::Form& f, std::string_view path, std::string_view language) {
  const form::Question* q = f.find_question(qpath::last_id(path));
  return q ? f.text(q->label, language) : std::string(path);
}

std::string screen_header(const form::Form& f, std::string_view language, const Progress& progress,
                          std::string_view path) {
  std::string out = f.text(f.title, language) + "   [" + std::to_string(progress.current) + "/" +
                    std::to_string(progress.total) + "]\n";
  auto entries = qpath::enclosing_instances(path);
  std::string trail;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    qpath::Instance entry = qpath::split_instance(*it);
    trail += (trail.empty() ? "" : " > ") + label_at(f, entry.repeat_path, language) + ", entry " +
             std::to_string(entry.index + 1);
  }
  if (!trail.empty()) out += trail + "\n";
  out += "----------------------------------------\n\n";
  return out;
}

std::string question_text(const form::Form& f, const form::Step& step, std::string_view language) {
  const form::Question& q = *step.question;
  std::string out = f.text(q.label, language) + (q.required ? " *" : "") + "\n";
  if (!q.hint.empty()) out += "  " + f.text(q.hint, language) + "\n";
  const bool answered = !form::is_unanswered(step.answer);
  if (answered) out += "\nCurrent answer: " + describe_answer(f, q, *step.answer, language) + "\n";
  if (q.type == form::QuestionType::kSingleChoice ||
      q.type == form::QuestionType::kMultipleChoice) {
    out += "\n";
    for (size_t i = 0; i < q.choices.size(); ++i) {
      bool chosen = false;
      if (answered && step.answer->is_string()) {
        chosen = step.answer->get_ref<const std::string&>() == q.choices[i].value;
      } else if (answered && step.answer->is_array()) {
        for (const auto& v : *step.answer)
          chosen |= v.is_string() && v.get_ref<const std::string&>() == q.choices[i].value;
      }
      out += std::string(chosen ? " * " : "   ") + std::to_string(i + 1) + ") " +
             f.text(q.choices[i].label, language) + "\n";
    }
  }
  out += '\n';
  out += input_instructions(q);
  out += '\n';
  if (q.type != form::QuestionType::kAttachment) {
    if (answered) {
      out += "(Enter keeps the current answer.)\n";
    } else if (!q.required) {
      out += "(Enter skips this question.)\n";
    }
  }
  if (q.required) out += "* required\n";
  return out;
}

std::string issue_text(const form::Form& f, const form::AnswerIssue& issue,
                       std::string_view language, bool with_place) {
  std::string out = std::string(form::rule_name(issue.rule)) + ": " + issue.message;
  if (!with_place) return out;
  if (issue.path.empty()) return "the answers as a whole: " + out;
  return label_at(f, issue.path, language) + " (" + issue.path + "): " + out;
}

std::string commands_line() {
  return ":back  :skip  :save  :quit  :help";
}

std::string help_text(const form::Form& f) {
  std::string out =
      "Answering\n"
      "  Type the answer and press Enter. For a menu, type the number of your choice\n"
      "  (several numbers separated by spaces or commas when more than one is allowed).\n"
      "  An empty line keeps the current answer, or skips a question that is not required.\n"
      "  Long answers: type as many lines as you need, then a line with only \".\"\n"
      "  An answer that starts with ':' is typed with two, like \"::)\".\n\n"
      "Commands\n"
      "  :back        the previous question\n"
      "  :skip        leave this question unanswered (clears its answer; not for required ones)\n"
      "  :save        save a draft and leave (satchel record --resume ID continues it)\n"
      "  :quit        leave without saving the changes made now\n"
      "  :remove      inside a repeated group: remove this entry\n"
      "  :lang CODE   change the language:";
  for (const auto& l : f.languages) out += " " + l.code + " (" + l.name + ")";
  out +=
      "\n  :help        this screen\n"
      "  Ctrl-C       save a draft and leave\n\n"
      "Answers are shown only on this screen; nothing is written to the terminal history.\n";
  return out;
}

}  // namespace satchel::cli
