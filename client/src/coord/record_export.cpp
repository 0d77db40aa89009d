#include "satchel/coord/record_export.h"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "satchel/client/trust_store.h"
#include "satchel/coord/body_store.h"
#include "satchel/coord/csv_writer.h"

namespace satchel::coord {

namespace {

namespace fs = std::filesystem;
using form::Question;
using form::QuestionType;
using nlohmann::json;

bool is_lower_hex(std::string_view s, size_t len) {
  if (s.size() != len) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string day_text(int64_t day) {
  const auto t = static_cast<std::time_t>(day * 86400);
  std::tm tm{};
  char buf[32];
  if (gmtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm) == 0)
    return std::to_string(day);
  return buf;
}

// One record as read from the store.
struct StoredRecord {
  std::string record_id;
  DevicePublicKey device;
  std::optional<std::string> label;
  int64_t day = 0;
  bool retracted = false;
  int64_t body_id = 0;
  json manifest;
};

// The answers with what the export must not show removed: identifying answers (unless asked
// for) and keys the form does not define (they could carry anything).
json filter_answers(const std::vector<Question>& questions, const json& answers,
                    bool include_identifying) {
  json out = json::object();
  if (!answers.is_object()) return out;
  for (const Question& q : questions) {
    auto it = answers.find(q.id);
    if (it == answers.end() || (q.identifying && !include_identifying)) continue;
    if (q.is_repeat()) {
      json instances = json::array();
      if (it->is_array())
        for (const auto& inst : *it)
          instances.push_back(filter_answers(q.questions, inst, include_identifying));
      out[q.id] = std::move(instances);
    } else {
      out[q.id] = *it;
    }
  }
  return out;
}

// The CSV columns of one question list (repeats excluded: they have files of their own).
void add_columns(const std::vector<Question>& questions, bool include_identifying,
                 std::vector<std::string>& header, std::vector<const Question*>& cols) {
  for (const Question& q : questions) {
    if (q.is_repeat() || (q.identifying && !include_identifying)) continue;
    if (q.type == QuestionType::kLocation) {
      header.push_back(q.id + ".place");
      header.push_back(q.id + ".lat");
      header.push_back(q.id + ".lon");
    } else {
      header.push_back(q.id);
    }
    cols.push_back(&q);
  }
}

void add_cells(const form::Form& f, const std::string& lang,
               const std::vector<const Question*>& cols, const json& answers,
               std::vector<CsvCell>& row) {
  for (const Question* q : cols) {
    const json* a = nullptr;
    if (answers.is_object()) {
      auto it = answers.find(q->id);
      if (it != answers.end() && !it->is_null()) a = &*it;
    }
    if (q->type == QuestionType::kLocation) {
      if (a && a->is_object()) {
        // Checked at import against the form; still read defensively (no throwing accessors).
        auto text_of = [&](const char* k) {
          auto it = a->find(k);
          return it != a->end() && it->is_string() ? CsvCell::text(it->get<std::string>())
                                                   : CsvCell{};
        };
        auto number_of = [&](const char* k) {
          auto it = a->find(k);
          return it != a->end() && it->is_number() ? CsvCell::number(it->dump()) : CsvCell{};
        };
        row.push_back(text_of("place"));
        row.push_back(number_of("lat"));
        row.push_back(number_of("lon"));
      } else {
        row.insert(row.end(), 3, CsvCell{});
      }
      continue;
    }
    if (!a) {
      row.push_back(CsvCell{});
      continue;
    }
    switch (q->type) {
      case QuestionType::kInteger:
      case QuestionType::kDecimal:
        row.push_back(a->is_number() ? CsvCell::number(a->dump()) : CsvCell::text(a->dump()));
        break;
      case QuestionType::kYesNo:
      case QuestionType::kConsent:
        row.push_back(CsvCell::text(a->is_boolean() ? (a->get<bool>() ? "yes" : "no") : ""));
        break;
      case QuestionType::kSingleChoice: {
        const std::string v = a->is_string() ? a->get<std::string>() : a->dump();
        const form::Choice* c = q->find_choice(v);
        row.push_back(CsvCell::text(c ? f.text(c->label, lang) : v));
        break;
      }
      case QuestionType::kMultipleChoice:
      case QuestionType::kAttachment: {
        std::string joined;
        if (a->is_array())
          for (const auto& v : *a) {
            const std::string s = v.is_string() ? v.get<std::string>() : v.dump();
            const form::Choice* c =
                q->type == QuestionType::kMultipleChoice ? q->find_choice(s) : nullptr;
            if (!joined.empty()) joined += "; ";
            joined += c ? f.text(c->label, lang) : s;
          }
        row.push_back(CsvCell::text(joined));
        break;
      }
      default:
        row.push_back(CsvCell::text(a->is_string() ? a->get<std::string>() : a->dump()));
    }
  }
}

// Whether the question `id` is identifying, or lies inside an identifying repeat.
bool identifying_question(const std::vector<Question>& questions, std::string_view id,
                          bool inside_identifying) {
  for (const Question& q : questions) {
    if (q.id == id) return q.identifying || inside_identifying;
    if (q.is_repeat() && identifying_question(q.questions, id, inside_identifying || q.identifying))
      return true;
  }
  return false;
}

// The manifest's attachments an export may show: those of a question the form defines and does
// not flag identifying (every one, with include_identifying). The manifest was rebuilt from
// checked fields at import, so its fields have their types.
std::vector<const json*> shown_attachments(const form::Form& f, const json& manifest,
                                           bool include_identifying) {
  std::vector<const json*> out;
  auto it = manifest.find("attachments");
  if (it == manifest.end() || !it->is_array()) return out;
  for (const auto& a : *it) {
    const std::string q = a.value("question", std::string());
    if (!f.find_question(q)) continue;
    if (!include_identifying && identifying_question(f.questions, q, false)) continue;
    out.push_back(&a);
  }
  return out;
}

// A staged output file and the CSV writer over it.
struct OutFile {
  std::string path;
  std::unique_ptr<StagedFileSink> sink;
  std::unique_ptr<CsvWriter> csv;
};

Result<OutFile> new_file(const std::string& path, bool csv) {
  auto sink = StagedFileSink::create(path);
  if (!sink) return sink.error();
  OutFile f;
  f.path = path;
  f.sink = std::make_unique<StagedFileSink>(std::move(sink.value()));
  if (csv) f.csv = std::make_unique<CsvWriter>(*f.sink);
  return f;
}

// A repeat group at any depth: its file and columns.
struct RepeatFile {
  OutFile file;
  std::vector<const Question*> cols;
};

// Files and columns for every repeat inside `questions` (path of ids so far in `prefix`).
Status open_repeat_files(const std::vector<Question>& questions, const std::string& prefix,
                         const std::string& base, bool include_identifying,
                         std::map<const Question*, RepeatFile>& out) {
  for (const Question& q : questions) {
    if (!q.is_repeat() || (q.identifying && !include_identifying)) continue;
    const std::string path = prefix.empty() ? q.id : prefix + "." + q.id;
    auto file = new_file(base + "." + path + ".csv", true);
    if (!file) return file.error();
    RepeatFile rf{std::move(file.value()), {}};
    std::vector<std::string> header = {"record_id", "instance"};
    add_columns(q.questions, include_identifying, header, rf.cols);
    std::vector<CsvCell> row;
    for (auto& h : header) row.push_back(CsvCell::text(h));
    SATCHEL_TRY(rf.file.csv->write_row(row));
    out.emplace(&q, std::move(rf));
    SATCHEL_TRY(open_repeat_files(q.questions, path, base, include_identifying, out));
  }
  return Status::Ok();
}

Status write_repeat_rows(const form::Form& f, const std::string& lang,
                         const std::vector<Question>& questions, const json& answers,
                         const std::string& record_id, const std::string& prefix,
                         std::map<const Question*, RepeatFile>& files) {
  for (const Question& q : questions) {
    auto it = files.find(&q);
    if (it == files.end() || !answers.is_object() || !answers.contains(q.id)) continue;
    const json& instances = answers.at(q.id);
    if (!instances.is_array()) continue;
    for (size_t i = 0; i < instances.size(); i++) {
      const std::string path =
          (prefix.empty() ? "" : prefix + ".") + q.id + "[" + std::to_string(i) + "]";
      std::vector<CsvCell> row = {CsvCell::text(record_id), CsvCell::text(path)};
      add_cells(f, lang, it->second.cols, instances[i], row);
      SATCHEL_TRY(it->second.file.csv->write_row(row));
      SATCHEL_TRY(write_repeat_rows(f, lang, q.questions, instances[i], record_id, path, files));
    }
  }
  return Status::Ok();
}

Result<std::vector<StoredRecord>> load_records(client::Profile& p, const std::string& form_id,
                                               uint64_t version) {
  auto st = p.db().prepare(
      "SELECT r.record_id, r.device_key, d.label, r.received_day, r.retracted, r.body_id, "
      "r.manifest FROM coord_records r LEFT JOIN coord_devices d ON d.device_key = r.device_key "
      "WHERE r.form_id = ?1 AND r.form_version = ?2 ORDER BY r.received_day, r.record_id");
  if (!st) return st.error();
  st->bind(1, form_id).bind(2, static_cast<int64_t>(version));
  std::vector<StoredRecord> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    StoredRecord r;
    r.record_id = st->text(0);
    ByteView key = st->blob(1);
    if (key.size() != 32 || !is_lower_hex(r.record_id, 32))
      return make_error(Errc::kIoError, "a stored record is damaged");
    std::memcpy(r.device.x25519.data(), key.data(), 32);
    if (!st->is_null(2)) r.label = st->text(2);
    r.day = st->int64(3);
    r.retracted = st->int64(4) != 0;
    r.body_id = st->int64(5);
    r.manifest = json::parse(st->text(6), nullptr, false);
    if (r.manifest.is_discarded())
      return make_error(Errc::kIoError, "a stored manifest is damaged");
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<uint64_t>> versions_with_records(client::Profile& p, const std::string& id) {
  auto st = p.db().prepare(
      "SELECT DISTINCT form_version FROM coord_records WHERE form_id = ?1 ORDER BY form_version");
  if (!st) return st.error();
  st->bind(1, id);
  std::vector<uint64_t> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(static_cast<uint64_t>(st->int64(0)));
  }
  return out;
}

// Copies one attachment's bytes out of a record's body into a new file.
Status extract_attachment(client::Profile& p, const StoredRecord& r, uint64_t offset, uint64_t size,
                          const std::string& path) {
  auto body = BodyReader::open(p, r.body_id);
  if (!body) return body.error();
  if (offset > body->size() || size > body->size() - offset)
    return make_error(Errc::kIoError, "record " + r.record_id + ": attachment out of its body");
  auto out = StagedFileSink::create(path);
  if (!out) return out.error();
  Bytes buf(1 << 16);
  while (size > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(size, buf.size()));
    SATCHEL_TRY(body->read_at(offset, std::span<uint8_t>(buf.data(), n)));
    SATCHEL_TRY(out->write(ByteView(buf.data(), n)));
    offset += n;
    size -= n;
  }
  return out->commit();
}

}  // namespace

std::string device_pseudonym(const CoordinatorSecretKey& coordinator,
                             const DevicePublicKey& device) {
  SecretBytes key(32);
  static constexpr char kContext[] = "satchel device pseudonym v1";
  crypto_generichash(key.data(), key.size(), reinterpret_cast<const uint8_t*>(kContext),
                     sizeof kContext - 1, coordinator.x25519().data(), coordinator.x25519().size());
  uint8_t out[8];
  crypto_generichash(out, sizeof out, device.x25519.data(), device.x25519.size(), key.data(),
                     key.size());
  return "d-" + to_hex(ByteView(out, sizeof out));
}

Result<ExportSummary> export_records(client::Profile& p, const ExportOptions& o) {
  SATCHEL_TRY(p.require_kind(client::ProfileKind::kCoordinator));
  auto coordinator = p.coordinator_key();
  if (!coordinator) return coordinator.error();
  if (o.attachments && !o.include_identifying)
    return make_error(Errc::kInvalidArgument,
                      "--attachments needs --include-identifying: attachments keep their "
                      "embedded metadata (camera, time, GPS position) until metadata stripping "
                      "is built, and a photo or a voice can identify a person");
  std::error_code ec;
  if (!fs::is_directory(o.out_dir, ec))
    return make_error(Errc::kNotFound, "export folder " + o.out_dir + " does not exist");
  std::vector<uint64_t> versions;
  if (o.version) {
    versions = {*o.version};
  } else {
    auto v = versions_with_records(p, o.form_id);
    if (!v) return v.error();
    versions = std::move(v.value());
  }
  ExportSummary summary;
  std::vector<OutFile> staged;
  struct LogEntry {
    uint64_t version;
    std::string options;
    uint64_t records;
  };
  std::vector<LogEntry> logs;
  client::TrustStore trust(p);
  for (uint64_t version : versions) {
    auto f = trust.form(o.form_id, version);
    if (!f) return f.error();
    const std::string lang = o.lang.empty() ? f->default_language : o.lang;
    if (!o.lang.empty() && !f->find_language(o.lang))
      return make_error(Errc::kInvalidArgument, "form " + o.form_id + " version " +
                                                    std::to_string(version) + " has no language " +
                                                    o.lang);
    auto records = load_records(p, o.form_id, version);
    if (!records) return records.error();
    if (records->empty())
      return make_error(Errc::kNotFound, "no record of form " + o.form_id + " version " +
                                             std::to_string(version) + " is held");
    const std::string base =
        (fs::path(o.out_dir) / (o.form_id + "-v" + std::to_string(version))).string();
    const bool csv = o.format == ExportFormat::kCsv;
    auto main = new_file(base + (csv ? ".csv" : ".jsonl"), csv);
    if (!main) return main.error();
    std::vector<std::string> header = {"record_id", "device", "received", "verification",
                                       "retraction"};
    if (o.include_identifying) header.push_back("device_label");
    std::vector<const Question*> cols;
    add_columns(f->questions, o.include_identifying, header, cols);
    std::map<const Question*, RepeatFile> repeats;
    if (csv) {
      std::vector<CsvCell> row;
      for (auto& h : header) row.push_back(CsvCell::text(h));
      SATCHEL_TRY(main->csv->write_row(row));
      SATCHEL_TRY(open_repeat_files(f->questions, "", base, o.include_identifying, repeats));
    }
    uint64_t written = 0;
    for (const StoredRecord& r : *records) {
      if (!r.label && !o.include_unverified) {
        summary.left_out_unverified++;
        continue;
      }
      if (r.retracted && !o.include_retracted) {
        summary.left_out_retracted++;
        continue;
      }
      const json answers = filter_answers(f->questions, r.manifest.value("answers", json::object()),
                                          o.include_identifying);
      const std::string device = device_pseudonym(*coordinator, r.device);
      const char* verification = r.label ? "verified" : "UNVERIFIED";
      if (csv) {
        std::vector<CsvCell> row = {CsvCell::text(r.record_id), CsvCell::text(device),
                                    CsvCell::text(day_text(r.day)), CsvCell::text(verification),
                                    CsvCell::text(r.retracted ? "retracted" : "")};
        if (o.include_identifying) row.push_back(CsvCell::text(r.label.value_or("")));
        add_cells(*f, lang, cols, answers, row);
        SATCHEL_TRY(main->csv->write_row(row));
        SATCHEL_TRY(write_repeat_rows(*f, lang, f->questions, answers, r.record_id, "", repeats));
      } else {
        json line = {{"record_id", r.record_id},
                     {"form", {{"id", o.form_id}, {"version", version}}},
                     {"device", device},
                     {"received", day_text(r.day)},
                     {"verification", verification},
                     {"retracted", r.retracted},
                     {"answers", answers}};
        if (o.include_identifying) line["device_label"] = r.label ? json(*r.label) : json(nullptr);
        json atts = json::array();
        for (const json* a : shown_attachments(*f, r.manifest, o.include_identifying)) {
          json item = {{"id", (*a)["id"]},
                       {"question", (*a)["question"]},
                       {"media_type", (*a)["media_type"]},
                       {"size", (*a)["size"]}};
          if (o.include_identifying) item["name"] = (*a)["name"];
          atts.push_back(std::move(item));
        }
        line["attachments"] = std::move(atts);
        std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
        SATCHEL_TRY(main->sink->write(as_bytes(std::string_view(text))));
      }
      if (o.attachments) {
        const fs::path dir = fs::path(o.out_dir) / "attachments";
        fs::create_directory(dir, ec);
        // A folder of our own, not a symbolic link someone left there to send the files
        // elsewhere (the files themselves are never written over: see extract_attachment).
        if (ec || !fs::is_directory(fs::symlink_status(dir)))
          return make_error(Errc::kIoError, "cannot use " + dir.string() +
                                                " for attachments: it must be a folder (not a "
                                                "symbolic link)");
        ::chmod(dir.c_str(), 0700);
        const auto& manifest = r.manifest;
        uint64_t offset = 0;  // the first attachment's, after the package's header and manifest
        {
          auto body = BodyReader::open(p, r.body_id);
          if (!body) return body.error();
          uint8_t head[5];
          SATCHEL_TRY(body->read_at(0, head));
          offset = 5 + (uint64_t{head[1]} | uint64_t{head[2]} << 8 | uint64_t{head[3]} << 16 |
                        uint64_t{head[4]} << 24);
        }
        const std::vector<const json*> shown =
            shown_attachments(*f, manifest, o.include_identifying);
        for (const auto& a : manifest["attachments"]) {
          const std::string id = a["id"].get<std::string>();
          const uint64_t size = a["size"].get<uint64_t>();
          if (std::find(shown.begin(), shown.end(), &a) == shown.end()) {
            offset += size;  // an attachment of an identifying question: not extracted
            continue;
          }
          // Both ids were chosen by a device: only their checked formats reach a file name.
          if (!is_lower_hex(id, 16) || !is_lower_hex(r.record_id, 32))
            return make_error(Errc::kIoError, "record " + r.record_id + ": bad attachment id");
          const std::string path = (dir / (r.record_id + "-" + id)).string();
          SATCHEL_TRY(extract_attachment(p, r, offset, size, path));
          summary.files.push_back(path);
          offset += size;
        }
      }
      written++;
    }
    summary.records += written;
    std::string options;
    if (o.include_identifying) options += "include-identifying ";
    if (o.include_unverified) options += "include-unverified ";
    if (o.include_retracted) options += "include-retracted ";
    if (o.attachments) options += "attachments ";
    if (!o.lang.empty()) options += "lang=" + o.lang + " ";
    if (!options.empty()) options.pop_back();
    logs.push_back({version, options, written});
    staged.push_back(std::move(main.value()));
    for (auto& [q, rf] : repeats) staged.push_back(std::move(rf.file));
  }
  if (versions.empty())
    return make_error(Errc::kNotFound, "no record of form " + o.form_id + " is held");
  for (auto& f : staged) {
    SATCHEL_TRY(f.sink->commit());
    summary.files.push_back(f.path);
  }
  // Logged once the files exist: the profile then says which plaintext files were made.
  for (const auto& l : logs) {
    auto log = p.db().prepare(
        "INSERT INTO coord_exports (at, form_id, form_version, format, options, records) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!log) return log.error();
    log->bind(1, o.now).bind(2, o.form_id).bind(3, static_cast<int64_t>(l.version));
    log->bind(4, std::string_view(o.format == ExportFormat::kCsv ? "csv" : "jsonl"));
    log->bind(5, l.options).bind(6, static_cast<int64_t>(l.records));
    SATCHEL_TRY(log->run());
  }
  return summary;
}

}  // namespace satchel::coord
