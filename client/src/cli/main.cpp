// satchel: the field client and coordinator command line. Commands live in cli_*.cpp.
#include <csignal>

#include <iostream>

#include "cli/cli.h"
#include "cli/cli_coord.h"
#include "satchel/crypto/secret.h"

int main(int argc, char** argv) {
  satchel::harden_process();
  // A relay may close a connection while a request body is still being written (it refuses
  // before reading); that must be an error value, not a SIGPIPE that kills `satchel sync`.
  std::signal(SIGPIPE, SIG_IGN);
  satchel::crypto_init();
  CLI::App app{
      "satchel: collect survey answers and testimony offline, sealed for your coordinators"};
  app.set_version_flag("--version", std::string("satchel ") + SATCHEL_VERSION);
  app.require_subcommand(1);
  app.fallthrough(true);
  satchel::cli::Action action;
  satchel::cli::add_profile_options(app);
  satchel::cli::add_profile_commands(app, action);
  satchel::cli::add_trust_commands(app, action);
  satchel::cli::add_form_commands(app, action);
  satchel::cli::add_record_commands(app, action);
  satchel::cli::add_keygen_command(app, action);
  satchel::cli::add_bundle_command(app, action);
  satchel::cli::add_org_command(app, action);
  satchel::cli::add_sync_commands(app, action);
  satchel::cli::add_join_command(app, action);
  satchel::cli::add_whoami_command(app, action);
  satchel::cli::add_coord_commands(app, action);
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
