// `satchel-relay mailbox …`: the operator's mailbox commands. They touch only the metadata
// database and may run while the relay serves.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands/cli.h"
#include "satchel/relay/clock.h"
#include "satchel/relay/credentials.h"
#include "satchel/relay/embedded_relay_store.h"
#include "satchel/relay/mailbox_registry.h"
#include "satchel/relay/relay_config.h"

namespace satchel::relay::cli {

namespace {

struct MailboxArgs {
  std::string config;
  std::string registration;
  std::string mailbox;
  std::string token_id;
  bool all = false;
  int64_t hours = 0;
};

struct Opened {
  RelayConfig config;
  std::unique_ptr<EmbeddedRelayStore> store;
};

Result<Opened> open_admin(const std::string& config_path) {
  auto config = load_relay_config(config_path);
  if (!config) return config.error();
  EmbeddedStoreOptions options;
  options.serve = false;
  auto store = EmbeddedRelayStore::open(config->storage, SystemClock().today(), options);
  if (!store) return store.error();
  return Opened{std::move(config.value()), std::move(store.value())};
}

std::string hour_text(int64_t unix_seconds) {
  char hour[16];
  std::snprintf(hour, sizeof hour, " %02d:00 UTC",
                static_cast<int>((unix_seconds % kSecondsPerDay) / 3600));
  return day_text(day_of(unix_seconds)) + hour;
}

int create(const MailboxArgs& a) {
  auto opened = open_admin(a.config);
  if (!opened) return fail(opened.error());
  std::ifstream in(a.registration, std::ios::binary);
  if (!in) return fail("cannot read " + a.registration);
  std::stringstream text;
  text << in.rdbuf();
  MailboxRegistry registry(*opened->store, opened->config.tombstone_days);
  auto out = registry.register_mailbox(text.str(), SystemClock().today());
  if (!out) return fail(a.registration + ": " + out.error().message);
  std::cout << (out->replaced ? "mailbox " + out->mailbox + " now uses registration version "
                              : "mailbox " + out->mailbox + " created from registration version ")
            << out->version << "\n";
  return kExitOk;
}

int code(const MailboxArgs& a) {
  auto opened = open_admin(a.config);
  if (!opened) return fail(opened.error());
  const int64_t hours = a.hours > 0 ? a.hours : opened->config.enrollment_code_hours;
  auto issued = mint_enrollment_code(*opened->store, a.mailbox, SystemClock().now(), hours);
  if (!issued) return fail(issued.error());
  // Printed once: only its hash is kept.
  std::cout << "enrollment code: " << issued->code << "\n"
            << "code id:         " << issued->code_id
            << "   (the token it is redeemed for gets this id, for `mailbox revoke`)\n"
            << "expires:         " << hour_text(issued->expires_at) << "\n";
  return kExitOk;
}

int revoke(const MailboxArgs& a) {
  if (a.all == !a.token_id.empty()) return fail("give a TOKEN_ID or --all");
  auto opened = open_admin(a.config);
  if (!opened) return fail(opened.error());
  auto n = opened->store->revoke_tokens(
      a.mailbox, a.all ? std::nullopt : std::optional<std::string_view>(a.token_id));
  if (!n) return fail(n.error());
  if (*n == 0) return fail("no such token in mailbox " + a.mailbox);
  std::cout << *n << " token(s) revoked\n";
  return kExitOk;
}

int list(const MailboxArgs& a) {
  auto opened = open_admin(a.config);
  if (!opened) return fail(opened.error());
  MailboxRegistry registry(*opened->store, opened->config.tombstone_days);
  auto all = opened->store->mailboxes();
  if (!all) return fail(all.error());
  for (const MailboxRecord& m : *all) {
    auto active = registry.find(m.id);
    auto tokens = opened->store->token_ids(m.id);
    if (!active || !*active || !tokens) return fail("mailbox " + m.id + " cannot be read");
    std::cout << m.id << "  registration v" << m.version << ", "
              << (*active)->registration.coordinator_auth_keys.size() << " coordinator(s), "
              << (*active)->required_acks() << " acknowledgement(s) to delete, " << tokens->size()
              << " token(s)\n";
  }
  return kExitOk;
}

}  // namespace

void add_mailbox_command(CLI::App& app, Action& action) {
  auto* mailbox =
      app.add_subcommand("mailbox", "Create mailboxes, mint enrollment codes, revoke tokens");
  mailbox->require_subcommand(1);
  auto args = std::make_shared<MailboxArgs>();
  auto config_option = [&](CLI::App* cmd) {
    cmd->add_option("--config", args->config, "the relay's configuration file")->required();
  };

  auto* c = mailbox->add_subcommand(
      "create",
      "Create a mailbox from an organisation-signed registration, or replace it with a "
      "newer one signed by the same organisation");
  config_option(c);
  c->add_option("--registration", args->registration,
                "registration file from `satchel org "
                "registration`")
      ->required();
  c->callback([&action, args] { action = [args] { return create(*args); }; });

  auto* k = mailbox->add_subcommand("code", "Mint a single-use enrollment code (printed once)");
  config_option(k);
  k->add_option("ID", args->mailbox, "mailbox id")->required();
  k->add_option("--hours", args->hours, "validity in hours, 1..72 (default: the configuration's)");
  k->callback([&action, args] { action = [args] { return code(*args); }; });

  auto* r = mailbox->add_subcommand("revoke", "Revoke a device's upload token, or all of them");
  config_option(r);
  r->add_option("ID", args->mailbox, "mailbox id")->required();
  r->add_option("TOKEN_ID", args->token_id, "the token id (the code id it was redeemed from)");
  r->add_flag("--all", args->all, "revoke every token of the mailbox");
  r->callback([&action, args] { action = [args] { return revoke(*args); }; });

  auto* l = mailbox->add_subcommand("list", "List mailboxes");
  config_option(l);
  l->callback([&action, args] { action = [args] { return list(*args); }; });
}

}  // namespace satchel::relay::cli
