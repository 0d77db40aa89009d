// satchel: the field client and coordinator command line. Commands live in cli_*.cpp.
#include <sys/prctl.h>
#include <sys/resource.h>
#include <csignal>

#include <iostream>

#include "cli.h"
#include "satchel/crypto/secret.h"

namespace {

// No core dumps and no ptrace attach by other users: a crash must not write keys to disk.
void harden_process() {
  struct rlimit none {
    0, 0
  };
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // A relay may close a connection while a request body is still being written (it refuses
  // before reading); that must be an error value, not a SIGPIPE that kills `satchel sync`.
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace

int main(int argc, char** argv) {
  harden_process();
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
