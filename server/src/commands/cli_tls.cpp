// `satchel-relay tls pins | rotate`: the pins the relay serves and keeps aside, and the move to
// the backup key (schema/relay-api.md, "Rotating the relay's key").
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands/cli.h"
#include "satchel/crypto/encoding.h"
#include "satchel/relay/relay_config.h"
#include "satchel/relay/tls_identity.h"
#include "satchel/relay/tls_rotation.h"

namespace satchel::relay::cli {

namespace {

struct RotateArgs {
  std::string config, backup_key;
  std::vector<std::string> names;
};

int pins(const std::string& config_path) {
  auto c = load_relay_config(config_path);
  if (!c) return fail(c.error());
  const std::string backup =
      (std::filesystem::absolute(config_path).parent_path() / "backup-key.pem").string();
  if (!c->tls) {
    std::cout << "tls = off: devices see the proxy's certificate\nchallenge pin: "
              << to_hex(*c->challenge_pin) << "\n";
  } else {
    auto served = certificate_pin(c->certificate);
    if (!served) return fail(served.error());
    std::cout << "spki pin:   " << to_hex(*served) << "\n";
    if (c->challenge_pin) std::cout << "challenge pin: " << to_hex(*c->challenge_pin) << "\n";
  }
  if (std::filesystem::exists(backup)) {
    auto pin = private_key_pin(backup);
    if (!pin) return fail(pin.error());
    std::cout << "backup pin: " << to_hex(*pin) << "  (" << backup
              << " is still on this machine: move it offline)\n";
  } else {
    std::cout << "backup key: not on this machine\n";
  }
  return kExitOk;
}

int rotate(const RotateArgs& a) {
  TlsRotationRequest r;
  r.config_path = a.config;
  r.backup_key_path = a.backup_key;
  r.names = a.names;
  r.now = static_cast<int64_t>(std::time(nullptr));
  FileOps ops;
  auto done = rotate_tls_identity(r, ops);
  if (!done) return fail(done.error());
  if (done->resumed) std::cout << "finished a rotation that was cut after relay.conf switched\n";
  std::cout << "relay.conf now names " << done->private_key_path << "\n";
  if (!done->resumed) std::cout << "old pin:    " << to_hex(done->old_pin) << "\n";
  std::cout << "spki pin:   " << to_hex(done->pin) << "\n"
            << "backup pin: " << to_hex(done->backup_pin) << "\n"
            << "\nRestart the relay to serve the new certificate (systemctl restart "
               "satchel-relay): devices and\ncoordinators holding the current roster accept it "
               "(its backup pin). Then give both pins\nto the organisation: satchel org relay "
               "set-pins URL --pin <spki pin> --backup-pin <backup pin>,\nsatchel org publish, "
               "satchel coord publish, and every coordinator: satchel coord roster add.\n"
            << "Move " << done->new_backup_key_path
            << " off this machine and keep it offline: the next rotation needs it.\n";
  if (done->resumed)
    std::cout << "The previous key's files may remain beside " << done->private_key_path
              << ": remove those relay.conf does not name.\n";
  for (const std::string& f : done->leftovers)
    std::cerr << "satchel-relay: could not overwrite or remove " << f << ": remove it by hand\n";
  return kExitOk;
}

}  // namespace

void add_tls_command(CLI::App& app, Action& action) {
  auto* tls = app.add_subcommand("tls", "The relay's certificate: pins and rotation");
  tls->require_subcommand(1);
  auto config = std::make_shared<std::string>();
  auto* show = tls->add_subcommand("pins", "Print the pin served and the backup key's, if here");
  show->add_option("--config", *config, "the relay's configuration file")->required();
  show->callback([&action, config] { action = [config] { return pins(*config); }; });

  auto args = std::make_shared<RotateArgs>();
  auto* rotate_cmd = tls->add_subcommand(
      "rotate",
      "Move the relay to its backup key: a certificate for it, a new backup key, the old key "
      "destroyed; served from the next start");
  rotate_cmd->add_option("--config", args->config, "the relay's configuration file")->required();
  rotate_cmd
      ->add_option("--backup-key", args->backup_key,
                   "the backup key's PEM file, brought back from offline storage (overwritten "
                   "and removed once the relay holds its copy)")
      ->required();
  rotate_cmd->add_option("--name", args->names,
                         "host name or address for the new certificate; repeat per name "
                         "(default: the current certificate's)");
  rotate_cmd->callback([&action, args] { action = [args] { return rotate(*args); }; });
}

}  // namespace satchel::relay::cli
