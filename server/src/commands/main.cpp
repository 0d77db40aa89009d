// satchel-relay: the relay server. Stores ciphertext it cannot read; see schema/relay-api.md.
// Commands live in cli_*.cpp.
#include <iostream>

#include "commands/cli.h"
#include "satchel/crypto/secret.h"

namespace satchel::relay::cli {

int fail(const std::string& message) {
  std::cerr << "satchel-relay: " << message << "\n";
  return kExitFailure;
}

}  // namespace satchel::relay::cli

int main(int argc, char** argv) {
  satchel::harden_process();
  satchel::crypto_init();
  CLI::App app{
      "satchel-relay: stores sealed bundles it cannot read, until coordinators collect them"};
  app.set_version_flag("--version", std::string("satchel-relay ") + SATCHEL_VERSION);
  app.require_subcommand(1);
  satchel::relay::cli::Action action;
  satchel::relay::cli::add_init_command(app, action);
  satchel::relay::cli::add_serve_command(app, action);
  satchel::relay::cli::add_mailbox_command(app, action);
  satchel::relay::cli::add_tls_command(app, action);
  satchel::relay::cli::add_uploads_command(app, action);
  satchel::relay::cli::add_documents_command(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!action) {
    std::cerr << app.help();
    return 2;
  }
  return action();
}
