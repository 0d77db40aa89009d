// `satchel record | attach | finalize | retract | list | show | outbox`: drafts, retractions and
// the outbox.
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>

#include "cli/cli.h"
#include "cli/cli_session.h"
#include "questionnaire/questionnaire.h"
#include "satchel/client/finalize.h"
#include "satchel/client/outbox.h"
#include "satchel/client/passphrase.h"
#include "satchel/client/record_store.h"
#include "satchel/client/retraction.h"
#include "satchel/client/trust_store.h"
#include "satchel/form/validate.h"

namespace satchel::cli {
namespace {

struct RecordArgs {
  std::string form_id, answers_file, resume;
};

// Final-mode issues, except "required" on attachment questions: files come later (attach).
std::vector<form::AnswerIssue> record_issues(const form::Form& f, const nlohmann::json& answers) {
  auto issues = form::validate_answers(f, answers, form::ValidationMode::kFinal);
  std::erase_if(issues, [&](const form::AnswerIssue& i) {
    std::string id =
        i.path.substr(i.path.rfind('.') == std::string::npos ? 0 : i.path.rfind('.') + 1);
    const form::Question* q = f.find_question(id);
    return q && q->type == form::QuestionType::kAttachment && i.rule == form::Rule::kRequired;
  });
  return issues;
}

int record_from_answers(const RecordArgs& a) {
  auto text = read_text_file(a.answers_file, 16 * 1024 * 1024);
  if (!text) return fail(text.error());
  auto answers = nlohmann::json::parse(*text, nullptr, false);
  if (answers.is_discarded() || !answers.is_object())
    return fail(a.answers_file + ": not a JSON object of answers");
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  client::TrustStore trust(*profile);
  auto f = trust.form(a.form_id);
  if (!f) return fail(f.error());
  auto issues = record_issues(*f, answers);
  if (!issues.empty())
    return fail(a.answers_file + ": answers do not fit form " + f->id + ":\n" +
                client::describe_issues(issues));
  client::RecordStore records(*profile);
  auto id = records.create(f->id, f->version, answers);
  if (!id) return fail(id.error());
  std::cout << *id << "\n";
  return kExitOk;
}

int record(const RecordArgs& a) {
  if (!a.answers_file.empty()) return record_from_answers(a);
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  client::TrustStore trust(*profile);
  client::RecordStore records(*profile);
  std::string record_id = a.resume;
  nlohmann::json answers = nlohmann::json::object();
  std::optional<form::Form> f;
  if (!record_id.empty()) {
    auto info = records.info(record_id);
    if (!info) return fail(info.error());
    auto ff = trust.form(info->form_id, info->form_version);
    if (!ff) return fail(ff.error());
    f = std::move(ff.value());
    auto ans = records.answers(record_id);
    if (!ans) return fail(ans.error());
    answers = std::move(ans.value());
  } else {
    if (a.form_id.empty()) return fail("give a FORM_ID, or --resume RECORD_ID");
    auto ff = trust.form(a.form_id);
    if (!ff) return fail(ff.error());
    f = std::move(ff.value());
  }
  auto outcome = run_questionnaire(*f, answers);
  if (!outcome) return fail(outcome.error());
  if (outcome->abandoned) {
    std::cerr << (record_id.empty() ? "nothing saved\n" : "draft left as it was\n");
    return kExitOk;
  }
  if (record_id.empty()) {
    auto id = records.create(f->id, f->version, answers);
    if (!id) return fail(id.error());
    record_id = *id;
  } else {
    Status s = records.save_answers(record_id, answers);
    if (!s) return fail(s.error());
  }
  std::cout << record_id
            << (outcome->complete ? ""
                                  : " (draft saved; satchel record --resume " + record_id + ")")
            << "\n";
  return kExitOk;
}

std::string kind_for(const std::string& path) {
  auto dot = path.rfind('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* e : {"mp3", "m4a", "ogg", "opus", "wav", "aac", "amr", "flac"})
    if (ext == e) return "audio";
  for (const char* e : {"jpg", "jpeg", "png", "heic", "webp", "gif"})
    if (ext == e) return "photo";
  return "document";
}

// Standard input as a ByteSource: a pipe or redirected file whose size need not be known.
class StdinSource final : public ByteSource {
 public:
  Result<size_t> read(std::span<uint8_t> out) override {
    for (;;) {
      ssize_t r = ::read(STDIN_FILENO, out.data(), out.size());
      if (r >= 0) return static_cast<size_t>(r);
      if (errno != EINTR)
        return make_error(Errc::kIoError,
                          std::string("cannot read standard input: ") + std::strerror(errno));
    }
  }
};

struct AttachArgs {
  std::string record_id, path, question, name, kind;
};

int attach(AttachArgs a) {
  const bool from_stdin = a.path.empty() || a.path == "-";
  std::optional<FileSource> file;
  StdinSource stdin_source;
  if (from_stdin) {
    if (a.name.empty())
      return fail("attach from standard input needs --name (the file name the coordinators see)");
    if (::isatty(STDIN_FILENO))
      return fail(
          "attach reads the file from standard input, which is a terminal: redirect a "
          "file into it (satchel attach RECORD --name N < FILE) or name the file");
    if (profile_options().passphrase_fd == 0)
      return fail("--passphrase-fd 0 and an attachment on standard input cannot share it");
  } else {
    auto opened = FileSource::open(a.path);
    if (!opened) return fail(opened.error());
    file.emplace(std::move(opened.value()));
    if (a.name.empty())
      a.name = a.path.substr(a.path.rfind('/') == std::string::npos ? 0 : a.path.rfind('/') + 1);
  }
  if (a.name.find('/') != std::string::npos || a.name.size() > 255)
    return fail("--name must be a file name without '/' (at most 255 bytes)");
  if (a.kind.empty()) a.kind = kind_for(a.name);
  if (a.kind != "audio" && a.kind != "photo" && a.kind != "document")
    return fail("--kind must be audio, photo or document, not '" + a.kind + "'");
  const std::string& record_id = a.record_id;
  std::string question = a.question;
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  client::TrustStore trust(*profile);
  client::RecordStore records(*profile);
  auto info = records.info(record_id);
  if (!info) return fail(info.error());
  auto f = trust.form(info->form_id, info->form_version);
  if (!f) return fail(f.error());
  if (question.empty()) {
    for (const auto& q : f->questions)
      if (q.type == form::QuestionType::kAttachment) {
        if (!question.empty())
          return fail("form " + f->id + " has several attachment questions: pass --question ID");
        question = q.id;
      }
    if (question.empty()) return fail("form " + f->id + " has no attachment question");
  }
  const form::Question* q = nullptr;
  for (const auto& top : f->questions)
    if (top.id == question) q = &top;
  if (!q || q->type != form::QuestionType::kAttachment)
    return fail("form " + f->id + " has no top-level attachment question '" + question + "'");
  const std::string& kind = a.kind;
  const std::string& name = a.name;
  bool accepted = false;
  for (auto k : q->accept) accepted |= form::attachment_kind_name(k) == kind;
  if (!accepted)
    return fail("question '" + question + "' does not accept " + kind + " files (" + name + ")");
  auto answers = records.answers(record_id);
  if (!answers) return fail(answers.error());
  ByteSource& src = file ? static_cast<ByteSource&>(*file) : stdin_source;
  const std::optional<uint64_t> expected =
      file ? std::optional<uint64_t>(file->size()) : std::nullopt;
  auto att = records.attach(record_id, src, expected, question, name, kind);
  if (!att) return fail(att.error());
  auto& list = (*answers)[question];
  if (!list.is_array()) list = nlohmann::json::array();
  list.push_back(*att);
  Status s = records.save_answers(record_id, *answers);
  if (!s) return fail(s.error());
  auto stored = records.attachments(record_id);
  uint64_t size = 0;
  if (stored)
    for (const auto& x : *stored)
      if (x.attachment_id == *att) size = x.size;
  std::cout << "attached " << name << " (" << size << " bytes) as " << *att << "\n";
  return kExitOk;
}

int finalize(const std::string& record_id) {
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  auto r = client::finalize_record(*profile, record_id, static_cast<int64_t>(std::time(nullptr)));
  if (!r) return fail(r.error());
  std::cout << "sealed into the outbox: " << r->entry.upload_id.substr(0, 16) << "  "
            << r->entry.size
            << " bytes\nthe draft and its key are destroyed: this device can no longer read it\n";
  // The retraction code: on a terminal, on the alternate screen (out of scrollback); to a pipe
  // or file the person chose, as a line.
  std::string text =
      "Retraction code for this testimony: " +
      std::string(reinterpret_cast<const char*>(r->retraction_code.data()),
                  r->retraction_code.size()) +
      "\nGive it to the person who gave the testimony, or keep it somewhere other than this "
      "device: with `satchel retract` on any enrolled device it withdraws the testimony. This "
      "device does not keep it.\n";
  show_private_text(text);
  sodium_memzero(text.data(), text.size());
  return kExitOk;
}

int retract(const std::string& code_arg) {
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  SecretBytes typed;
  if (code_arg.empty()) {
    auto src = client::PassphraseSource::resolve(-1);
    if (!src) return fail(src.error());
    auto line = client::read_passphrase(*src, "Retraction code: ");
    if (!line) return fail(line.error());
    typed = std::move(line.value());
  } else {
    typed = SecretBytes(code_arg.size());
    std::memcpy(typed.data(), code_arg.data(), code_arg.size());
  }
  auto secret = client::parse_retraction_code(
      std::string_view(reinterpret_cast<const char*>(typed.data()), typed.size()));
  if (!secret) return fail(secret.error());
  auto r = client::queue_retraction(*profile, *secret, static_cast<int64_t>(std::time(nullptr)));
  if (!r) return fail(r.error());
  std::cout << "retraction sealed into the outbox (" << r->entry.size
            << " bytes): it leaves with the next sync\n";
  return kExitOk;
}

int list() {
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  client::RecordStore records(*profile);
  auto drafts = records.list();
  if (!drafts) return fail(drafts.error());
  if (drafts->empty()) std::cout << "no drafts\n";
  for (const auto& d : *drafts)
    std::cout << d.record_id << "  " << d.form_id << " v" << d.form_version << "  updated "
              << format_utc(d.updated_at, "%Y-%m-%d") << "\n";
  return kExitOk;
}

int show(const std::string& record_id) {
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  client::RecordStore records(*profile);
  auto answers = records.answers(record_id);
  if (!answers) return fail(answers.error());
  auto atts = records.attachments(record_id);
  if (!atts) return fail(atts.error());
  std::string text = answers->dump(2) + "\n";
  for (const auto& a : *atts)
    text += "attachment " + a.attachment_id + ": " + a.name + " (" + a.media_type + ", " +
            std::to_string(a.size) + " bytes)\n";
  show_private_text(text);
  wipe(text.data(), text.size());
  return kExitOk;
}

int outbox() {
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  client::Outbox box(*profile);
  auto entries = box.list();
  if (!entries) return fail(entries.error());
  if (entries->empty()) std::cout << "outbox is empty\n";
  for (const auto& e : *entries)
    std::cout << e.upload_id.substr(0, 16) << "  " << e.size << " bytes  " << e.state
              << (e.exported ? ", exported" : "") << "\n";
  return kExitOk;
}

// Writes every bundle not yet stored on a relay to DIR (a USB stick) as <upload id>.bundle, each
// synced before the entry is marked exported. The coordinator imports such a folder directly.
int outbox_export(const std::string& dir) {
  auto profile = open_profile();
  if (!profile) return fail(profile.error());
  client::Outbox box(*profile);
  auto entries = box.list();
  if (!entries) return fail(entries.error());
  int written = 0;
  for (const auto& e : *entries) {
    if (e.state == "stored") continue;
    const std::string path = dir + "/" + e.upload_id + ".bundle";
    if (::access(path.c_str(), F_OK) == 0) {
      std::cout << e.upload_id.substr(0, 16) << "  already in " << dir << "\n";
    } else {
      auto sink = FileSink::create(path + ".part");
      if (!sink) return fail(sink.error());
      Status s = box.read(e.outbox_id, *sink);
      if (s) s = sink->commit();
      if (!s) return fail(s.error());
      if (::rename((path + ".part").c_str(), path.c_str()) != 0)
        return fail("cannot write " + path);
      written++;
    }
    if (!e.exported) {
      Status s = box.mark_exported(e.outbox_id);
      if (!s) return fail(s.error());
    }
  }
  std::cout << written << " bundle(s) written to " << dir << "\n";
  return kExitOk;
}

}  // namespace

void add_record_commands(CLI::App& app, Action& action) {
  auto ra = std::make_shared<RecordArgs>();
  auto* rec =
      app.add_subcommand("record", "Fill a form (interactive), or record answers from a file");
  rec->add_option("FORM_ID", ra->form_id, "form to fill");
  rec->add_option("--answers", ra->answers_file,
                  "JSON answers file (non-interactive); prints the record id");
  rec->add_option("--resume", ra->resume, "continue the draft RECORD_ID");
  rec->callback([&action, ra] { action = [ra] { return record(*ra); }; });

  auto aa = std::make_shared<AttachArgs>();
  auto* att = app.add_subcommand(
      "attach",
      "Attach a file to a draft (encrypted, streamed). The source file is not removed: delete it "
      "yourself if it must not stay on this device. A path on the command line stays in shell "
      "history and is visible to other local users while it runs: prefer standard input "
      "(satchel attach RECORD --name N < FILE)");
  att->add_option("RECORD_ID", aa->record_id, "draft")->required();
  att->add_option("FILE", aa->path, "file to attach; omit (or '-') to read standard input");
  att->add_option("--name", aa->name,
                  "file name the coordinators see (required with standard input; default: "
                  "FILE's name)");
  att->add_option("--kind", aa->kind,
                  "audio, photo or document (default: from the name's extension)");
  att->add_option("--question", aa->question, "attachment question (default: the form's only one)");
  att->callback([&action, aa] { action = [aa] { return attach(*aa); }; });

  auto fid = std::make_shared<std::string>();
  auto* fin = app.add_subcommand("finalize",
                                 "Seal a draft for the coordinators and destroy it on this device");
  fin->add_option("RECORD_ID", *fid, "draft")->required();
  fin->callback([&action, fid] { action = [fid] { return finalize(*fid); }; });

  auto code = std::make_shared<std::string>();
  auto* rt = app.add_subcommand(
      "retract", "Withdraw a testimony by its retraction code (asked for when not given)");
  rt->add_option("CODE", *code,
                 "the code finalize showed (better typed at the prompt: argv and "
                 "shell history keep it)");
  rt->callback([&action, code] { action = [code] { return retract(*code); }; });

  auto* ls = app.add_subcommand("list", "List drafts");
  ls->callback([&action] { action = [] { return list(); }; });

  auto sid = std::make_shared<std::string>();
  auto* sh =
      app.add_subcommand("show", "Show a draft's answers (on the terminal's alternate screen)");
  sh->add_option("RECORD_ID", *sid, "draft")->required();
  sh->callback([&action, sid] { action = [sid] { return show(*sid); }; });

  auto* ob = app.add_subcommand(
      "outbox", "List sealed bundles waiting to leave the device (id, size, state)");
  auto dir = std::make_shared<std::string>();
  auto* ex =
      ob->add_subcommand("export", "Write the outbox's bundles to a folder (e.g. a USB stick)");
  ex->add_option("DIR", *dir, "existing folder")->required()->check(CLI::ExistingDirectory);
  ex->callback([&action, dir] { action = [dir] { return outbox_export(*dir); }; });
  ob->callback([&action, ob] {
    if (!ob->got_subcommand("export")) action = [] { return outbox(); };
  });
}

}  // namespace satchel::cli
