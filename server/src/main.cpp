// satchel-relay: the relay server. Stores ciphertext it cannot read; see schema/relay-api.md.
#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"satchel-relay: stores sealed bundles it cannot read, until coordinators collect them"};
  app.set_version_flag("--version", std::string("satchel-relay ") + SATCHEL_VERSION);
  app.require_subcommand(0, 1);
  app.footer("The relay server (serve, init, mailbox) arrives with the relay issue; this build only\n"
             "reports its version.");
  CLI11_PARSE(app, argc, argv);
  std::cout << app.help();
  return 0;
}
