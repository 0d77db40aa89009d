// `satchel-relay tls rotate`: relay.conf switches to a certificate for the backup key in one
// rename, a new backup key takes the old one's place, the old key is destroyed; a rotation cut
// before or after the switch leaves a relay that starts and finishes when run again with the
// same new backup key; refusals change nothing.
#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch_test_macros.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "relay_harness.h"
#include "satchel/relay/tls_rotation.h"

using namespace satchel;
using namespace satchel::relay;

namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

// Runs the relay binary with `args`; returns its exit status and what it printed.
std::pair<int, std::string> run(const std::string& args) {
  const std::string command = std::string(SATCHEL_RELAY_BINARY) + " " + args + " 2>&1";
  FILE* f = ::popen(command.c_str(), "r");
  REQUIRE(f);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  const int status = ::pclose(f);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string printed(const std::string& out, const std::string& label) {
  const size_t at = out.find(label);
  REQUIRE(at != std::string::npos);
  return out.substr(out.find_first_not_of(' ', at + label.size()), 64);
}

// A relay directory made by `satchel-relay init`, its backup key moved to an "offline" folder.
struct RelayDir {
  testing::TempDir root{"rotation"};
  std::string dir = root.path + "/relay", config = dir + "/relay.conf";
  std::string offline_key = root.path + "/offline/backup-key.pem";
  std::string pin, backup_pin;

  RelayDir() {
    fs::create_directories(root.path + "/offline");
    auto [status, out] =
        run("init " + dir + " --name relay.example.org --name 192.0.2.7 --listen 127.0.0.1:18443");
    REQUIRE(status == 0);
    pin = printed(out, "spki pin:");
    backup_pin = printed(out, "backup pin:");
    fs::rename(dir + "/backup-key.pem", offline_key);
  }

  RelayConfig load() { return load_relay_config(config).value(); }
  std::string served() { return to_hex(certificate_pin(load().certificate).value()); }
};

// Fails the rename whose target ends with `suffix`, once.
struct FailingRename : FileOps {
  std::string suffix;
  bool failed = false;
  explicit FailingRename(std::string s) : suffix(std::move(s)) {}
  int rename(const char* from, const char* to) override {
    const std::string t(to);
    if (!failed && t.size() >= suffix.size() &&
        t.compare(t.size() - suffix.size(), suffix.size(), suffix) == 0) {
      failed = true;
      errno = EIO;
      return -1;
    }
    return FileOps::rename(from, to);
  }
};

}  // namespace

TEST_CASE("tls rotate serves the backup key, keeps a new backup key and destroys the old key",
          "[rotation]") {
  RelayDir r;
  const std::string old_key = r.load().private_key;
  const std::string before = slurp(r.config);
  auto [status, out] = run("tls rotate --config " + r.config + " --backup-key " + r.offline_key);
  INFO(out);
  REQUIRE(status == 0);
  CHECK(printed(out, "old pin:") == r.pin);
  CHECK(printed(out, "spki pin:") == r.backup_pin);
  const std::string new_backup = printed(out, "backup pin:");
  CHECK(new_backup != r.pin);
  CHECK(new_backup != r.backup_pin);
  CHECK(out.find("set-pins") != std::string::npos);

  const RelayConfig c = r.load();
  CHECK(r.served() == r.backup_pin);
  CHECK(to_hex(private_key_pin(c.private_key).value()) == r.backup_pin);
  CHECK(mode_of(c.private_key) == 0600);
  CHECK(mode_of(r.config) == 0600);
  CHECK(to_hex(private_key_pin(r.dir + "/backup-key.pem").value()) == new_backup);
  CHECK(mode_of(r.dir + "/backup-key.pem") == 0600);
  CHECK_FALSE(fs::exists(old_key));
  CHECK_FALSE(fs::exists(r.dir + "/tls/cert.pem"));
  CHECK_FALSE(fs::exists(r.offline_key));
  CHECK_FALSE(fs::exists(r.dir + "/backup-key.pem.new"));
  CHECK(certificate_names(c.certificate).value() ==
        std::vector<std::string>{"relay.example.org", "192.0.2.7"});
  // Only the two lines changed; the operator's comments and settings stay.
  const std::string after = slurp(r.config);
  CHECK(std::count(after.begin(), after.end(), '\n') ==
        std::count(before.begin(), before.end(), '\n'));
  CHECK(after.find("certificate = tls/cert-" + r.backup_pin.substr(0, 16) + ".pem\n") !=
        std::string::npos);

  auto [pins_status, pins_out] = run("tls pins --config " + r.config);
  CHECK(pins_status == 0);
  CHECK(printed(pins_out, "spki pin:") == r.backup_pin);
  CHECK(printed(pins_out, "backup pin:") == new_backup);

  // The same key again: nothing to do, said so.
  fs::copy_file(c.private_key, r.offline_key);
  auto [again, again_out] =
      run("tls rotate --config " + r.config + " --backup-key " + r.offline_key);
  CHECK(again == 1);
  CHECK(again_out.find("already serves") != std::string::npos);
}

TEST_CASE("a rotation cut before the switch leaves the old key served and completes later",
          "[rotation]") {
  RelayDir r;
  TlsRotationRequest q{r.config, r.offline_key, {}, 1'800'000'000};
  FailingRename cut("relay.conf");
  CHECK_FALSE(rotate_tls_identity(q, cut).ok());
  CHECK(r.served() == r.pin);  // the relay starts as before
  CHECK(fs::exists(r.load().private_key));
  CHECK(fs::exists(r.offline_key));
  const std::string staged = to_hex(private_key_pin(r.dir + "/backup-key.pem.new").value());

  FileOps ops;
  auto done = rotate_tls_identity(q, ops);
  REQUIRE(done.ok());
  CHECK_FALSE(done->resumed);
  CHECK(r.served() == r.backup_pin);
  CHECK(to_hex(done->backup_pin) == staged);  // the pin a cut run may already have shown
}

TEST_CASE("a rotation cut after the switch finishes when run again with the same key",
          "[rotation]") {
  RelayDir r;
  TlsRotationRequest q{r.config, r.offline_key, {}, 1'800'000'000};
  FailingRename cut("backup-key.pem");
  CHECK_FALSE(rotate_tls_identity(q, cut).ok());
  CHECK(r.served() == r.backup_pin);  // switched: the relay starts on the backup key
  const std::string staged = to_hex(private_key_pin(r.dir + "/backup-key.pem.new").value());

  FileOps ops;
  auto done = rotate_tls_identity(q, ops);
  REQUIRE(done.ok());
  CHECK(done->resumed);
  CHECK(done->old_pin == Hash32{});
  CHECK(to_hex(done->pin) == r.backup_pin);
  CHECK(to_hex(done->backup_pin) == staged);
  CHECK(to_hex(private_key_pin(r.dir + "/backup-key.pem").value()) == staged);
  CHECK_FALSE(fs::exists(r.offline_key));
}

TEST_CASE("tls rotate refuses, changing nothing", "[rotation]") {
  RelayDir r;
  FileOps ops;
  const std::string before = slurp(r.config);
  SECTION("a backup-key.pem left on the relay that is another key") {
    std::ofstream(r.dir + "/backup-key.pem") << generate_key().value().private_key_pem;
    auto refused = rotate_tls_identity({r.config, r.offline_key, {}, 1'800'000'000}, ops);
    CHECK(refused.code() == Errc::kInvalidArgument);
    CHECK(refused.error().message.find("holds another key") != std::string::npos);
  }
  SECTION("TLS ends at a proxy") {
    std::ofstream(r.config, std::ios::app) << "challenge_pin = " << std::string(64, 'a') << "\n";
    const std::string proxied = slurp(r.config);
    auto refused = rotate_tls_identity({r.config, r.offline_key, {}, 1'800'000'000}, ops);
    CHECK(refused.code() == Errc::kInvalidArgument);
    CHECK(refused.error().message.find("proxy") != std::string::npos);
    CHECK(slurp(r.config) == proxied);
    return;
  }
  SECTION("a file that is not a key") {
    std::ofstream(r.offline_key, std::ios::trunc) << "not a key\n";
    CHECK_FALSE(rotate_tls_identity({r.config, r.offline_key, {}, 1'800'000'000}, ops).ok());
  }
  CHECK(slurp(r.config) == before);
  CHECK(r.served() == r.pin);
  CHECK_FALSE(fs::exists(r.dir + "/backup-key.pem.new"));
}
