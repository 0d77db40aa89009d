// `satchel-relay uploads list|remove --partial`: the operator's view of unfinished uploads (id,
// mailbox, bytes, days since the last write — the store knows no token that made them) and their
// removal. Listing reads the metadata and may run beside a serving relay; removal takes the
// storage's serving lock, so it refuses while the relay runs (a partial upload may be being
// written).
#include <iostream>
#include <memory>

#include "commands/cli.h"
#include "satchel/relay/clock.h"
#include "satchel/relay/embedded_relay_store.h"
#include "satchel/relay/relay_config.h"

namespace satchel::relay::cli {

namespace {

// Hex digits an ID argument must give at least (ids are printed in full).
constexpr size_t kMinIdPrefix = 8;

struct UploadsArgs {
  std::string config;
  bool partial = false;
  std::string id;
  bool all = false;
  int64_t older_than = -1;
};

Result<std::unique_ptr<EmbeddedRelayStore>> open_store(const std::string& config_path, bool serve) {
  auto config = load_relay_config(config_path);
  if (!config) return config.error();
  EmbeddedStoreOptions options;
  options.serve = serve;
  auto store = EmbeddedRelayStore::open(config->storage, SystemClock().today(), options);
  if (!store && serve && store.code() == Errc::kAlreadyExists)
    return make_error(Errc::kAlreadyExists,
                      "the relay is serving " + config->storage +
                          ": stop it first (a partial upload may be being written; "
                          "`uploads list --partial` works while it runs)");
  return store;
}

int list(const UploadsArgs& a) {
  if (!a.partial) return fail("only partial uploads are listed: give --partial");
  auto store = open_store(a.config, false);
  if (!store) return fail(store.error());
  auto partial = (*store)->partial_uploads();
  if (!partial) return fail(partial.error());
  const Day today = SystemClock().today();
  for (const UploadRecord& u : *partial)
    std::cout << to_hex(u.id) << "  mailbox " << u.mailbox << "  " << u.committed << " of "
              << u.length << " bytes  idle " << (today > u.day ? today - u.day : 0) << " day(s)\n";
  std::cout << partial->size() << " partial upload(s)\n";
  return kExitOk;
}

bool id_matches(const UploadRecord& u, const std::string& prefix) {
  return to_hex(u.id).compare(0, prefix.size(), prefix) == 0;
}

int remove(const UploadsArgs& a) {
  if (!a.partial) return fail("only partial uploads can be removed: give --partial");
  const int chosen = (a.id.empty() ? 0 : 1) + (a.all ? 1 : 0) + (a.older_than >= 0 ? 1 : 0);
  if (chosen != 1) return fail("give exactly one of ID, --all, --older-than DAYS");
  if (!a.id.empty() && (a.id.size() < kMinIdPrefix || a.id.size() > 64 ||
                        a.id.find_first_not_of("0123456789abcdef") != std::string::npos))
    return fail("ID: give at least " + std::to_string(kMinIdPrefix) +
                " lower-case hex digits of an upload id");
  auto store = open_store(a.config, true);
  if (!store) return fail(store.error());
  auto partial = (*store)->partial_uploads();
  if (!partial) return fail(partial.error());
  const Day today = SystemClock().today();
  std::vector<const UploadRecord*> chosen_uploads;
  for (const UploadRecord& u : *partial) {
    if (a.all || (!a.id.empty() && id_matches(u, a.id)) ||
        (a.older_than >= 0 && today - u.day > a.older_than))
      chosen_uploads.push_back(&u);
  }
  if (!a.id.empty() && chosen_uploads.empty()) return fail("no partial upload with id " + a.id);
  if (!a.id.empty() && chosen_uploads.size() > 1)
    return fail("id " + a.id + " names " + std::to_string(chosen_uploads.size()) +
                " partial uploads: give more digits");
  size_t removed = 0;
  for (const UploadRecord* u : chosen_uploads) {
    if (Status s = (*store)->terminate_upload(u->mailbox, u->id, today); !s)
      return fail("removing " + to_hex(u->id) + ": " + s.error().message + " (" +
                  std::to_string(removed) + " removed before it)");
    removed++;
  }
  std::cout << removed << " partial upload(s) removed\n";
  return kExitOk;
}

}  // namespace

void add_uploads_command(CLI::App& app, Action& action) {
  auto* uploads = app.add_subcommand("uploads", "List or remove unfinished (partial) uploads");
  uploads->require_subcommand(1);
  auto args = std::make_shared<UploadsArgs>();
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--config", args->config, "the relay's configuration file")->required();
    cmd->add_flag("--partial", args->partial,
                  "partial uploads (the only kind these commands touch)");
  };

  auto* l = uploads->add_subcommand(
      "list", "List partial uploads: id, mailbox, bytes held of declared, days since last write");
  common(l);
  l->callback([&action, args] { action = [args] { return list(*args); }; });

  auto* r = uploads->add_subcommand(
      "remove", "Remove partial uploads (the relay must be stopped): one ID, --all, or idle ones");
  common(r);
  r->add_option("ID", args->id, "an upload id, or a unique prefix of at least 8 hex digits");
  r->add_flag("--all", args->all, "every partial upload");
  r->add_option("--older-than", args->older_than,
                "partial uploads not written for more than DAYS days")
      ->check(CLI::NonNegativeNumber);
  r->callback([&action, args] { action = [args] { return remove(*args); }; });
}

}  // namespace satchel::relay::cli
