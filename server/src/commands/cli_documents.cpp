// `satchel-relay documents …`: the operator's view of the documents coordinators published
// (list with sizes, remove one). Touches only the metadata database; may run while the relay
// serves.
#include <iostream>
#include <memory>

#include "commands/cli.h"
#include "satchel/relay/clock.h"
#include "satchel/relay/embedded_relay_store.h"
#include "satchel/relay/relay_config.h"

namespace satchel::relay::cli {

namespace {

struct DocumentArgs {
  std::string config;
  std::string mailbox;
  std::string name;
};

Result<std::unique_ptr<EmbeddedRelayStore>> open_store(const std::string& config_path) {
  auto config = load_relay_config(config_path);
  if (!config) return config.error();
  EmbeddedStoreOptions options;
  options.serve = false;
  return EmbeddedRelayStore::open(config->storage, SystemClock().today(), options);
}

int list(const DocumentArgs& a) {
  if (!is_mailbox_id(a.mailbox)) return fail("not a mailbox id: " + a.mailbox);
  auto store = open_store(a.config);
  if (!store) return fail(store.error());
  auto docs = (*store)->documents(a.mailbox);
  if (!docs) return fail(docs.error());
  uint64_t total = 0;
  for (const DocumentInfo& d : *docs) {
    std::cout << d.name << "  " << d.bytes << " bytes\n";
    total += d.bytes;
  }
  std::cout << docs->size() << " document(s), " << total << " bytes\n";
  return kExitOk;
}

int remove(const DocumentArgs& a) {
  if (!is_mailbox_id(a.mailbox)) return fail("not a mailbox id: " + a.mailbox);
  auto store = open_store(a.config);
  if (!store) return fail(store.error());
  auto deleted = (*store)->delete_document(a.mailbox, a.name);
  if (!deleted) return fail(deleted.error());
  if (!*deleted) return fail("no document " + a.name + " in mailbox " + a.mailbox);
  std::cout << "document " << a.name << " removed\n";
  return kExitOk;
}

}  // namespace

void add_documents_command(CLI::App& app, Action& action) {
  auto* documents =
      app.add_subcommand("documents", "List or remove the documents coordinators published");
  documents->require_subcommand(1);
  auto args = std::make_shared<DocumentArgs>();

  auto* l = documents->add_subcommand("list", "List a mailbox's documents with their sizes");
  l->add_option("--config", args->config, "the relay's configuration file")->required();
  l->add_option("ID", args->mailbox, "mailbox id")->required();
  l->callback([&action, args] { action = [args] { return list(*args); }; });

  auto* r = documents->add_subcommand("remove", "Remove one document of a mailbox");
  r->add_option("--config", args->config, "the relay's configuration file")->required();
  r->add_option("ID", args->mailbox, "mailbox id")->required();
  r->add_option("NAME", args->name, "the document's name")->required();
  r->callback([&action, args] { action = [args] { return remove(*args); }; });
}

}  // namespace satchel::relay::cli
