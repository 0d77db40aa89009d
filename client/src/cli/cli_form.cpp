// `satchel form add|list|show`: organisation-signed forms on the device.
#include <iostream>

#include "cli/cli.h"
#include "cli/cli_session.h"
#include "cli/cli_trust.h"
#include "satchel/client/trust_store.h"
#include "satchel/coord/importer.h"

namespace satchel::cli {

int form_add(const std::string& path, client::ProfileKind kind) {
  auto text = read_text_file(path, 8 * 1024 * 1024);
  if (!text) return fail(text.error());
  auto profile = open_profile(kind);
  if (!profile) return fail(profile.error());
  client::TrustStore trust(*profile);
  auto f = trust.add_form(*text, path);
  if (!f) return fail(f.error());
  std::cout << "form " << f->id << " version " << f->version
            << " added: " << f->text(f->title, f->default_language) << "\n";
  if (kind == client::ProfileKind::kCoordinator) {
    auto n = coord::import_waiting_records(*profile, f->id, f->version);
    if (!n) return fail(n.error());
    std::cout << *n << " record(s) waiting for this form imported\n";
  }
  return kExitOk;
}

namespace {

int form_list() {
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  client::TrustStore trust(*profile);
  auto forms = trust.latest_forms();
  if (!forms) return fail(forms.error());
  if (forms->empty()) std::cout << "no forms (satchel form add FILE)\n";
  for (const auto& s : *forms) {
    auto f = form::parse_form(s.content, "form " + s.form_id);
    std::cout << s.form_id << "  v" << s.version << "  "
              << (f ? f->text(f->title, f->default_language) : std::string("(unreadable)")) << "\n";
  }
  return kExitOk;
}

void print_questions(const form::Form& f, const std::vector<form::Question>& qs,
                     const std::string& lang, int depth) {
  for (const auto& q : qs) {
    std::cout << std::string(static_cast<size_t>(depth) * 2, ' ') << "- " << q.id << " ["
              << form::question_type_name(q.type) << (q.required ? ", required" : "")
              << (q.identifying ? ", identifying" : "") << (q.relevant ? ", conditional" : "")
              << "] " << f.text(q.label, lang) << "\n";
    for (const auto& c : q.choices)
      std::cout << std::string(static_cast<size_t>(depth) * 2 + 4, ' ') << c.value << ": "
                << f.text(c.label, lang) << "\n";
    if (q.is_repeat()) print_questions(f, q.questions, lang, depth + 1);
  }
}

int form_show(const std::string& id, const std::string& lang) {
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  client::TrustStore trust(*profile);
  auto f = trust.form(id);
  if (!f) return fail(f.error());
  const std::string l = lang.empty() ? f->default_language : lang;
  if (!f->find_language(l)) return fail("form " + id + " has no language '" + l + "'");
  std::cout << f->text(f->title, l) << "  (" << f->id << " v" << f->version << ")\n";
  print_questions(*f, f->questions, l, 0);
  return kExitOk;
}

}  // namespace

void add_form_commands(CLI::App& app, Action& action) {
  auto* form = app.add_subcommand("form", "Forms signed by your organisation");
  form->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  auto* add = form->add_subcommand("add", "Verify and add a signed form (FORM.signed)");
  add->add_option("FILE", *file, "signed form file")->required();
  add->callback([&action, file] {
    action = [file] { return form_add(*file, client::ProfileKind::kField); };
  });
  auto* list = form->add_subcommand("list", "List the forms on this device");
  list->callback([&action] { action = [] { return form_list(); }; });
  auto id = std::make_shared<std::string>();
  auto lang = std::make_shared<std::string>();
  auto* show = form->add_subcommand("show", "Show a form's questions");
  show->add_option("ID", *id, "form id")->required();
  show->add_option("--lang", *lang, "language code (default: the form's default)");
  show->callback([&action, id, lang] { action = [id, lang] { return form_show(*id, *lang); }; });
}

}  // namespace satchel::cli
