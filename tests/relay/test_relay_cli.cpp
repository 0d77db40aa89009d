// The satchel-relay executable end to end: init writes a private directory, a certificate with
// the printed pin and a backup key; mailbox commands; serve logs one start line, serves over
// TLS 1.3, stops cleanly on SIGTERM, and what it stored survives a restart.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <sstream>

#include "relay_harness.h"

using namespace satchel;
using namespace satchel::relay;
using namespace satchel::relay::testing;

namespace {

struct Run {
  int status = -1;
  std::string out;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Starts the relay binary with `args`; stdout and stderr go to files in `dir`.
pid_t spawn(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> argv;
    std::string bin = SATCHEL_RELAY_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits at most `seconds` for the child; -1 if it did not exit.
int wait_for(pid_t pid, double seconds) {
  for (int i = 0; i < static_cast<int>(seconds * 100); i++) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

Run run(const TempDir& dir, const std::vector<std::string>& args) {
  const pid_t pid = spawn(args, dir.path + "/out.txt", dir.path + "/err.txt");
  Run r;
  r.status = wait_for(pid, 20);
  r.out = slurp(dir.path + "/out.txt") + slurp(dir.path + "/err.txt");
  return r;
}

uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// True once a TLS handshake with the relay on `port` succeeds (at most 10 s).
bool wait_until_serving(uint16_t port, const std::string& ca) {
  for (int i = 0; i < 200; i++) {
    if (RawTlsConnection(port, ca).connected()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The word after `label` in `text` ("spki pin:   ab12…" → "ab12…"), or "".
std::string field(const std::string& text, const std::string& label) {
  const size_t at = text.find(label);
  if (at == std::string::npos) return "";
  size_t i = at + label.size();
  while (i < text.size() && text[i] == ' ') i++;
  size_t j = i;
  while (j < text.size() && std::isalnum(static_cast<unsigned char>(text[j]))) j++;
  return text.substr(i, j - i);
}

// Replaces the value of the configuration line starting with `key = `.
std::string with_setting(const std::string& config, const std::string& key,
                         const std::string& value) {
  const size_t at = config.find("\n" + key + " = ");
  if (at == std::string::npos) return config;
  const size_t end = config.find('\n', at + 1);
  return config.substr(0, at + 1) + key + " = " + value + config.substr(end);
}

}  // namespace

TEST_CASE("satchel-relay init, mailbox and serve work end to end and stop cleanly on SIGTERM") {
  TempDir dir("cli");
  std::filesystem::create_directories(dir.path);
  const std::string relay_dir = dir.path + "/relay";
  const uint16_t port = free_port();
  auto init = run(dir, {"init", relay_dir, "--name", "127.0.0.1", "--name", "relay.example.org",
                        "--listen", "127.0.0.1:" + std::to_string(port)});
  REQUIRE(init.status == 0);
  const std::string pin = field(init.out, "spki pin:");
  const std::string backup = field(init.out, "backup pin:");
  CHECK(pin == to_hex(certificate_pin(relay_dir + "/tls/cert.pem").value()));
  CHECK(backup == to_hex(private_key_pin(relay_dir + "/backup-key.pem").value()));
  CHECK(pin != backup);
  struct stat st {};
  REQUIRE(::stat((relay_dir + "/storage").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat((relay_dir + "/tls/key.pem").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((relay_dir + "/backup-key.pem").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(run(dir, {"init", relay_dir, "--name", "x"}).status == 1);  // never overwrites

  // Smaller pool and a free health port for the test.
  const std::string config = relay_dir + "/relay.conf";
  std::string text = slurp(config);
  text = with_setting(text, "health", "127.0.0.1:" + std::to_string(free_port()));
  text = with_setting(text, "threads", "8");
  std::ofstream(config, std::ios::trunc) << text;

  TestOrganisation org(1);
  std::ofstream(dir.path + "/reg.txt") << org.registration(1) << "\n";
  auto created =
      run(dir, {"mailbox", "create", "--config", config, "--registration", dir.path + "/reg.txt"});
  CHECK(created.status == 0);
  CHECK(created.out.find(org.mailbox_id()) != std::string::npos);
  CHECK(run(dir, {"mailbox", "create", "--config", config, "--registration", dir.path + "/reg.txt"})
            .status == 1);  // the same version again
  auto code = run(dir, {"mailbox", "code", "--config", config, org.mailbox_id(), "--hours", "2"});
  REQUIRE(code.status == 0);
  const std::string enrollment = field(code.out, "enrollment code:");
  REQUIRE(enrollment.size() == 32);

  const pid_t server =
      spawn({"serve", "--config", config}, dir.path + "/serve.out", dir.path + "/serve.err");
  auto client = [&] {
    auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
    c->set_ca_cert_path((relay_dir + "/tls/cert.pem").c_str());
    c->enable_server_certificate_verification(true);
    return c;
  };
  const std::string ca = relay_dir + "/tls/cert.pem";
  REQUIRE(wait_until_serving(port, ca));
  auto enrolled =
      client()->Post("/v1/enroll", nlohmann::json{{"code", enrollment}}.dump(), "application/json");
  REQUIRE(enrolled);
  REQUIRE(enrolled->status == 200);
  const std::string token = nlohmann::json::parse(enrolled->body)["token"];
  const Bytes data = test_bytes(70'000, 1);
  REQUIRE(tus_upload_whole(*client(), token, data)->status == 201);

  ::kill(server, SIGTERM);
  CHECK(wait_for(server, 8) == 0);
  const std::string log = slurp(dir.path + "/serve.err");
  CHECK(log.find("serving on 127.0.0.1:" + std::to_string(port) + " (TLS 1.3)") !=
        std::string::npos);
  CHECK(std::count(log.begin(), log.end(), '\n') == 2);  // the start line and "stopped"
  CHECK(log.find(token) == std::string::npos);
  CHECK(log.find(enrollment) == std::string::npos);

  // Served again from the same storage: the bundle is still stored.
  const pid_t again =
      spawn({"serve", "--config", config}, dir.path + "/serve.out", dir.path + "/serve2.err");
  REQUIRE(wait_until_serving(port, ca));
  auto head = client()->Head("/v1/uploads/" + hex_of(sha256_of(data)), tus_headers(token));
  REQUIRE(head);
  CHECK(head->get_header_value("Upload-State") == "stored");
  ::kill(again, SIGINT);
  CHECK(wait_for(again, 8) == 0);
}

TEST_CASE(
    "satchel-relay uploads list and remove partial uploads; remove refuses while the relay "
    "serves") {
  TempDir dir("cli-uploads");
  std::filesystem::create_directories(dir.path);
  const std::string relay_dir = dir.path + "/relay";
  const uint16_t port = free_port();
  REQUIRE(run(dir, {"init", relay_dir, "--name", "127.0.0.1", "--listen",
                    "127.0.0.1:" + std::to_string(port)})
              .status == 0);
  const std::string config = relay_dir + "/relay.conf";
  std::string text = slurp(config);
  text = with_setting(text, "threads", "8");
  std::ofstream(config, std::ios::trunc) << text;
  TestOrganisation org(1);
  std::ofstream(dir.path + "/reg.txt") << org.registration(1) << "\n";
  REQUIRE(
      run(dir, {"mailbox", "create", "--config", config, "--registration", dir.path + "/reg.txt"})
          .status == 0);
  auto code = run(dir, {"mailbox", "code", "--config", config, org.mailbox_id()});
  REQUIRE(code.status == 0);
  const std::string enrollment = field(code.out, "enrollment code:");

  const std::string ca = relay_dir + "/tls/cert.pem";
  const pid_t server =
      spawn({"serve", "--config", config}, dir.path + "/serve.out", dir.path + "/serve.err");
  REQUIRE(wait_until_serving(port, ca));
  auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
  c->set_ca_cert_path(ca.c_str());
  c->enable_server_certificate_verification(true);
  auto enrolled =
      c->Post("/v1/enroll", nlohmann::json{{"code", enrollment}}.dump(), "application/json");
  REQUIRE(enrolled);
  REQUIRE(enrolled->status == 200);
  const std::string token = nlohmann::json::parse(enrolled->body)["token"];
  const Hash32 a = sha256_of(test_bytes(10, 1));
  const Hash32 b = sha256_of(test_bytes(10, 2));
  REQUIRE(tus_create(*c, token, a, 1000) == 201);
  REQUIRE(tus_create(*c, token, b, 2000) == 201);
  const Bytes whole = test_bytes(5000, 3);
  REQUIRE(tus_upload_whole(*c, token, whole)->status == 201);

  // Listing works beside the serving relay and names no token.
  auto listed = run(dir, {"uploads", "list", "--config", config, "--partial"});
  CHECK(listed.status == 0);
  CHECK(listed.out.find(hex_of(a)) != std::string::npos);
  CHECK(listed.out.find("0 of 2000 bytes") != std::string::npos);
  CHECK(listed.out.find("2 partial upload(s)") != std::string::npos);
  CHECK(listed.out.find(hex_of(sha256_of(whole))) == std::string::npos);  // stored: not listed
  CHECK(listed.out.find(token) == std::string::npos);
  // Removal refuses while the relay serves.
  auto refused = run(dir, {"uploads", "remove", "--config", config, "--partial", "--all"});
  CHECK(refused.status == 1);
  CHECK(refused.out.find("the relay is serving") != std::string::npos);
  CHECK(run(dir, {"uploads", "list", "--config", config}).status == 1);  // --partial required

  ::kill(server, SIGTERM);
  REQUIRE(wait_for(server, 8) == 0);
  auto bad = run(dir, {"uploads", "remove", "--config", config, "--partial", "abc"});
  CHECK(bad.status == 1);
  CHECK(bad.out.find("at least 8") != std::string::npos);
  CHECK(run(dir, {"uploads", "remove", "--config", config, "--partial", "--older-than", "0"})
            .out.find("0 partial upload(s) removed") != std::string::npos);  // both written today
  auto one =
      run(dir, {"uploads", "remove", "--config", config, "--partial", hex_of(a).substr(0, 12)});
  CHECK(one.status == 0);
  CHECK(one.out.find("1 partial upload(s) removed") != std::string::npos);
  auto rest = run(dir, {"uploads", "list", "--config", config, "--partial"});
  CHECK(rest.out.find(hex_of(a)) == std::string::npos);
  CHECK(rest.out.find(hex_of(b)) != std::string::npos);
  CHECK(run(dir, {"uploads", "remove", "--config", config, "--partial", "--all"}).status == 0);
  CHECK(run(dir, {"uploads", "list", "--config", config, "--partial"})
            .out.find("0 partial upload(s)") != std::string::npos);
  // The stored bundle is untouched.
  EmbeddedStoreOptions admin;
  admin.serve = false;
  auto store = EmbeddedRelayStore::open(relay_dir + "/storage", SystemClock().today(), admin);
  REQUIRE(store);
  auto found = (*store)->find_upload(org.mailbox_id(), sha256_of(whole));
  REQUIRE(found);
  CHECK((found->upload && found->upload->state == UploadState::kStored));
}

TEST_CASE("satchel-relay documents lists a mailbox's documents with sizes and removes one") {
  TempDir dir("cli-docs");
  std::filesystem::create_directories(dir.path);
  const std::string relay_dir = dir.path + "/relay";
  REQUIRE(run(dir, {"init", relay_dir, "--name", "127.0.0.1"}).status == 0);
  const std::string config = relay_dir + "/relay.conf";
  TestOrganisation org(1);
  std::ofstream(dir.path + "/reg.txt") << org.registration(1) << "\n";
  REQUIRE(
      run(dir, {"mailbox", "create", "--config", config, "--registration", dir.path + "/reg.txt"})
          .status == 0);
  {
    EmbeddedStoreOptions o;
    o.serve = false;
    auto store = EmbeddedRelayStore::open(relay_dir + "/storage", 20'400, o);
    REQUIRE(store);
    REQUIRE((*store)->put_document(org.mailbox_id(), "roster", test_bytes(1234, 1), {}));
    REQUIRE((*store)->put_document(org.mailbox_id(), "forms.v2", test_bytes(99, 2), {}));
  }
  auto listed = run(dir, {"documents", "list", "--config", config, org.mailbox_id()});
  CHECK(listed.status == 0);
  CHECK(listed.out.find("roster  1234 bytes") != std::string::npos);
  CHECK(listed.out.find("forms.v2  99 bytes") != std::string::npos);
  CHECK(listed.out.find("2 document(s), 1333 bytes") != std::string::npos);
  auto removed = run(dir, {"documents", "remove", "--config", config, org.mailbox_id(), "roster"});
  CHECK(removed.status == 0);
  listed = run(dir, {"documents", "list", "--config", config, org.mailbox_id()});
  CHECK(listed.out.find("roster") == std::string::npos);
  CHECK(listed.out.find("1 document(s), 99 bytes") != std::string::npos);
  auto missing = run(dir, {"documents", "remove", "--config", config, org.mailbox_id(), "roster"});
  CHECK(missing.status == 1);
  CHECK(missing.out.find("no document roster in mailbox") != std::string::npos);
  auto bad = run(dir, {"documents", "list", "--config", config, "not-a-mailbox"});
  CHECK(bad.status == 1);
  CHECK(bad.out.find("not a mailbox id: not-a-mailbox") != std::string::npos);
}
