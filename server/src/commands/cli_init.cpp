// `satchel-relay init DIR --name HOST…`: a commented configuration, a 0700 storage directory, a
// self-signed certificate for the names (unless one is given) and a backup key to keep aside;
// prints both SPKI pins for the organisation's roster.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands/cli.h"
#include "satchel/relay/file_ops.h"
#include "satchel/relay/relay_config.h"
#include "satchel/relay/tls_identity.h"

namespace satchel::relay::cli {

namespace {

struct InitArgs {
  std::string dir;
  std::vector<std::string> names;
  std::string listen = "0.0.0.0:8443";
  std::string certificate, private_key;
};

int init(const InitArgs& a) {
  namespace fs = std::filesystem;
  FileOps ops;
  if (a.certificate.empty() != a.private_key.empty())
    return fail("give both --certificate and --private-key, or neither");
  if (a.certificate.empty() && a.names.empty())
    return fail("give at least one --name for the certificate");
  if (!fs::exists(a.dir) && ::mkdir(a.dir.c_str(), 0700) != 0)
    return fail("cannot create " + a.dir + ": " + std::strerror(errno));
  const std::string dir = fs::absolute(a.dir).string();
  const std::string config_path = dir + "/relay.conf";
  if (fs::exists(config_path)) return fail(config_path + " exists: not overwriting it");
  if (Status s = make_private_directory(ops, dir); !s) return fail(s.error());
  if (Status s = make_private_directory(ops, dir + "/storage"); !s) return fail(s.error());

  RelayConfig c;
  auto parsed = parse_relay_config("listen = " + a.listen +
                                       "\nstorage = storage\n"
                                       "certificate = x\nprivate_key = x\n",
                                   dir);
  if (!parsed) return fail("--listen: " + parsed.error().message);
  c.listen_host = parsed->listen_host;
  c.listen_port = parsed->listen_port;
  c.storage = "storage";
  c.health = true;
  c.health_host = "127.0.0.1";
  c.health_port = static_cast<uint16_t>(c.listen_port == 65535 ? 65534 : c.listen_port + 1);

  Hash32 pin{};
  if (a.certificate.empty()) {
    if (Status s = make_private_directory(ops, dir + "/tls"); !s) return fail(s.error());
    auto cert = generate_self_signed_certificate(a.names, static_cast<int64_t>(std::time(nullptr)));
    if (!cert) return fail(cert.error());
    if (Status s = write_new_file(ops, dir + "/tls/key.pem", cert->key.private_key_pem, 0600); !s)
      return fail(s.error());
    if (Status s = write_new_file(ops, dir + "/tls/cert.pem", cert->certificate_pem, 0644); !s)
      return fail(s.error());
    c.certificate = "tls/cert.pem";
    c.private_key = "tls/key.pem";
    pin = cert->key.pin;
  } else {
    auto cert_pin = certificate_pin(a.certificate);
    if (!cert_pin) return fail(cert_pin.error());
    auto key_pin = private_key_pin(a.private_key);
    if (!key_pin) return fail(key_pin.error());
    if (*cert_pin != *key_pin) return fail("the private key does not match the certificate");
    c.certificate = fs::absolute(a.certificate).string();
    c.private_key = fs::absolute(a.private_key).string();
    pin = *cert_pin;
  }
  auto backup = generate_key();
  if (!backup) return fail(backup.error());
  if (Status s = write_new_file(ops, dir + "/backup-key.pem", backup->private_key_pem, 0600); !s)
    return fail(s.error());
  if (Status s = write_new_file(ops, config_path, render_relay_config(c), 0600); !s)
    return fail(s.error());
  if (ops.fsync_directory(dir.c_str()) != 0) return fail(errno_error("cannot sync " + dir, errno));

  std::cout << "relay configuration written to " << config_path << "\n"
            << "spki pin:   " << to_hex(pin) << "\n"
            << "backup pin: " << to_hex(backup->pin) << "\n"
            << "\nGive both pins to the organisation for its roster (--pin, --backup-pin).\n"
            << "Move " << dir << "/backup-key.pem off this machine and keep it offline: if the\n"
            << "relay's key is lost or seized, a certificate made with the backup key is still\n"
            << "trusted by every device that has the roster.\n";
  return kExitOk;
}

}  // namespace

void add_init_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<InitArgs>();
  auto* cmd = app.add_subcommand("init",
                                 "Create a relay directory: configuration, storage, "
                                 "certificate and backup key");
  cmd->add_option("DIR", args->dir, "directory to create (mode 0700)")->required();
  cmd->add_option("--name", args->names,
                  "host name, onion name or IP address of the relay; repeat per name");
  cmd->add_option("--listen", args->listen, "address:port to listen on")->capture_default_str();
  cmd->add_option("--certificate", args->certificate,
                  "use this PEM certificate (chain) instead of "
                  "generating a self-signed one");
  cmd->add_option("--private-key", args->private_key, "the PEM private key of --certificate");
  cmd->callback([&action, args] { action = [args] { return init(*args); }; });
}

}  // namespace satchel::relay::cli
