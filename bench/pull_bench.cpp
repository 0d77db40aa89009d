// Coordinator benchmarks, each beside its anchor in the same run (bench/README.md, "bench_pull"):
//   pull:    `satchel coord pull` of N small bundles from a local satchel-relay over TLS, with
//            the relay's default settings        vs  curl downloading the same bundles (one
//                                                    connection, the same session)
//   folder:  `satchel coord import DIR` of the same N bundles
//                                                vs  opening each bundle in memory (open_bundle)
//   large:   one bundle of --large-mib MiB pulled and imported: peak memory beside the small run
// Wall time is the figure compared; CPU time (user + system) and peak RSS of each child are
// printed beside it. The satchel commands and the relay run as child processes (their peak RSS
// measured by GNU time); the passphrase reaches them through a pipe (--passphrase-fd), never
// argv.
// Usage: bench_pull [--bundles N] [--large-mib M] [--dir DIR]
//        (SATCHEL, SATCHEL_RELAY and CURL name the programs; default: beside this one, curl)
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "satchel/client/profile.h"
#include "satchel/client/relay_client.h"
#include "satchel/client/trust_store.h"
#include "satchel/crypto/bundle.h"
#include "satchel/crypto/encoding.h"
#include "satchel/crypto/sha256.h"

#include "satchel/relay/embedded_relay_store.h"
#include "satchel/relay/mailbox_registry.h"
#include "satchel/relay/relay_config.h"
#include "satchel/relay/tls_identity.h"

using namespace satchel;
namespace fs = std::filesystem;

extern char** environ;

namespace {

constexpr const char* kForm = R"({"id":"bench","version":1,"title":{"en":"Bench"},
 "languages":[{"code":"en","name":"English","rtl":false}],"default_language":"en",
 "questions":[{"id":"consent","type":"consent","label":{"en":"Agree?"},"required":true},
 {"id":"story","type":"long_text","label":{"en":"Story"}},
 {"id":"files","type":"attachment","label":{"en":"Files"},"accept":["document"]}]})";
constexpr const char* kPassphrase = "bench passphrase: correct horse battery staple";

pid_t g_relay = -1;  // the relay child, stopped if the bench dies

[[noreturn]] void die(const std::string& what) {
  std::cerr << "bench_pull: " << what << "\n";
  if (g_relay > 0) kill(g_relay, SIGTERM);
  std::exit(1);
}

template <typename T>
T must(Result<T> r, const std::string& what) {
  if (!r) die(what + ": " + r.error().message);
  return std::move(r.value());
}

void must(Status s, const std::string& what) {
  if (!s) die(what + ": " + s.error().message);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double cpu_of(const rusage& ru) {
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double self_cpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return cpu_of(ru);
}

// A program beside this one (build/bin), unless the environment names it.
std::string program(const char* env, const std::string& name) {
  if (const char* p = std::getenv(env)) return p;
  auto self = fs::read_symlink("/proc/self/exe").parent_path() / name;
  return fs::exists(self) ? self.string() : name;
}

struct Child {
  pid_t pid = -1;
  int stdout_fd = -1;  // read end of its stdout when captured
};

// Starts `argv` with `stdin_text` on its standard input and, when `passphrase_fd`, the
// passphrase readable on descriptor 3.
Child spawn(const std::vector<std::string>& argv, const std::string& stdin_text, bool passphrase_fd,
            bool capture_stdout) {
  int in[2], pass[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(pass, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
    die("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  if (passphrase_fd) posix_spawn_file_actions_adddup2(&fa, pass[0], 3);
  if (capture_stdout) posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  Child c;
  if (posix_spawnp(&c.pid, args[0], &fa, nullptr, args.data(), environ) != 0)
    die("cannot start " + argv[0]);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(pass[0]);
  close(out[1]);
  if (passphrase_fd) {
    std::string p = std::string(kPassphrase) + "\n";
    if (write(pass[1], p.data(), p.size()) != static_cast<ssize_t>(p.size())) die("pass pipe");
  }
  close(pass[1]);
  std::thread([fd = in[1], text = stdin_text] {
    size_t at = 0;
    while (at < text.size()) {
      ssize_t n = write(fd, text.data() + at, text.size() - at);
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
    close(fd);
  }).detach();
  if (capture_stdout)
    c.stdout_fd = out[0];
  else
    close(out[0]);
  return c;
}

struct Finished {
  double wall = 0, cpu = 0;
  long peak_mib = 0;
  std::string out;
};

// Runs a command to its end. Its peak RSS comes from GNU time, which forks it from its own small
// process: wait4's ru_maxrss for a child spawned from this one (posix_spawn shares this
// process's memory until exec) would include this process's own peak, bundles and all.
Finished run(const std::vector<std::string>& command, const std::string& stdin_text = "",
             bool passphrase = false) {
  const std::string peak_file = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                                std::string("/bench-pull-peak-") + std::to_string(getpid());
  std::vector<std::string> argv = {"/usr/bin/time", "-f", "%M", "-o", peak_file};
  argv.insert(argv.end(), command.begin(), command.end());
  const auto t0 = std::chrono::steady_clock::now();
  Child c = spawn(argv, stdin_text, passphrase, true);
  Finished f;
  char buf[4096];
  for (ssize_t n; (n = read(c.stdout_fd, buf, sizeof buf)) > 0;)
    f.out.append(buf, static_cast<size_t>(n));
  close(c.stdout_fd);
  int status = 0;
  rusage ru{};
  if (wait4(c.pid, &status, 0, &ru) != c.pid) die("wait4");
  f.wall = seconds_since(t0);
  f.cpu = cpu_of(ru);
  {
    std::ifstream peak(peak_file);
    std::string line, last;
    while (std::getline(peak, line))
      if (!line.empty()) last = line;
    f.peak_mib = last.empty() ? -1 : std::stol(last) / 1024;
  }
  fs::remove(peak_file);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die(command[0] + " " + (command.size() > 5 ? command[5] : "") + " failed:\n" + f.out);
  return f;
}

// A string for a quoted value of curl's configuration file.
std::string escaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

uint16_t free_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    die("no free port");
  close(s);
  return ntohs(a.sin_port);
}

bool port_open(uint16_t port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(s);
  return ok;
}

// The organisation, its one coordinator (k = 1, so a pull deletes what it acknowledges), one
// device, the signed form and a roster naming the relay.
struct World {
  OrgSecretKey org = OrgSecretKey::generate();
  CoordinatorSecretKey coordinator = CoordinatorSecretKey::generate();
  DeviceSecretKey device = DeviceSecretKey::generate();
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::string dir, relay_dir, cert, url;
  Hash32 pin{};
  uint16_t port = 0;
  std::string form_package;
  std::string roster_text;

  Roster roster() const {
    Roster r;
    r.org = org.public_key();
    r.version = 1;
    r.issued_at = now - 60;
    r.expires_at = now + 30 * 86400;
    r.org_name = "Bench";
    r.slot_count = 1;
    r.coordinators = {{"Bench", coordinator.public_key()}};
    Hash32 backup{};
    backup.fill(7);
    r.relays = {{url, pin, backup}};
    return r;
  }

  // A record bundle with the device's `sequence`, a story of `story_bytes` and, if
  // `attachment_bytes`, one attachment of that many bytes.
  Bytes seal_record(uint64_t sequence, size_t story_bytes, uint64_t attachment_bytes = 0) const {
    nlohmann::json m;
    Bytes rid(16);
    randombytes_buf(rid.data(), rid.size());
    m["record_id"] = to_hex(rid);
    const Hash32 form_hash = Sha256::digest(as_bytes(std::string_view(kForm)));
    m["form"] = {{"id", "bench"}, {"version", 1}, {"sha256", to_hex(form_hash)}};
    m["created_at"] = now - 100;
    m["finalized_at"] = now - 50;
    m["answers"] = {{"consent", true},
                    {"story", std::string(story_bytes, 'a') + " " + std::to_string(sequence)}};
    m["attachments"] = nlohmann::json::array();
    if (attachment_bytes > 0) {
      m["answers"]["files"] = {"00112233445566aa"};
      m["attachments"].push_back({{"id", "00112233445566aa"},
                                  {"question", "files"},
                                  {"name", "large.bin"},
                                  {"media_type", "document"},
                                  {"size", attachment_bytes}});
    }
    const std::string text = m.dump();
    WireWriter w;
    w.u8(1);
    w.u32(static_cast<uint32_t>(text.size()));
    w.bytes(as_bytes(text));
    Bytes body = w.take();
    body.resize(body.size() + static_cast<size_t>(attachment_bytes), 0x5a);
    SealRequest req;
    req.sender = &device;
    req.recipients = {coordinator.public_key().x25519};
    req.slot_count = 1;
    req.metadata.content_type = ContentType::kRecord;
    req.metadata.sequence = sequence;
    req.metadata.created_at = now - 50;
    req.metadata.org_id = roster().org_id();
    req.metadata.roster_version = 1;
    req.metadata.form_id = "bench";
    req.metadata.form_version = 1;
    req.metadata.form_hash = form_hash;
    req.metadata.body_length = body.size();
    MemorySource src(body);
    MemorySink out;
    must(seal_bundle(std::move(req), src, out), "seal");
    return std::move(out.data());
  }
};

// A coordinator profile at `home` holding the world's coordinator key, trusting the
// organisation, with the roster and the form (Argon2id at its floor: unlock is not measured).
void make_coordinator(const World& w, const std::string& home) {
  client::ProfileContents c;
  c.kind = client::ProfileKind::kCoordinator;
  c.coordinator_key = CoordinatorSecretKey::from_text(w.coordinator.to_text().span()).value();
  SecretBytes pass(std::strlen(kPassphrase));
  std::memcpy(pass.data(), kPassphrase, pass.size());
  must(client::Profile::create(home, pass, client::kArgon2Floor, std::move(c)), "profile");
  auto p = must(client::Profile::open(home, pass), "open profile");
  client::TrustStore t(p);
  must(t.trust_organisation(w.org.public_key()), "trust");
  must(t.add_roster(w.roster().sign(w.org).value(), w.now), "roster");
  auto pkg =
      FormEnvelope::sign_package(w.org, "bench", 1, as_bytes(std::string_view(kForm)), w.now);
  must(t.add_form(pkg.value(), "bench.signed"), "form");
}

// Puts every bundle in the relay's storage for the mailbox, as completed uploads.
void store_uploads(const World& w, const std::string& mailbox, const std::vector<Bytes>& bundles) {
  relay::EmbeddedStoreOptions o;
  o.log = [](std::string_view) {};
  const relay::Day today = static_cast<relay::Day>(w.now / 86400);
  auto store = must(relay::EmbeddedRelayStore::open(w.relay_dir + "/storage", today, o), "store");
  for (const Bytes& b : bundles) {
    const Hash32 id = Sha256::digest(b);
    auto begun = must(store->begin_upload(mailbox, id, b.size(), 0, today), "upload");
    if (!begun.writer) die("upload not created");
    must(begun.writer->write(b), "upload write");
    auto done = must(begun.writer->commit(), "upload commit");
    if (!done.stored) die("upload not stored");
  }
}

struct Side {
  double wall = 0, cpu = 0;
  long peak_mib = 0;
};

void report(const char* what, size_t n, const Side& ours, const char* anchor_name,
            const Side& anchor) {
  std::printf("%-7s %zu bundles: %.0f /s (wall %.2f s, CPU %.2f s, peak RSS %ld MiB)\n", what, n,
              static_cast<double>(n) / ours.wall, ours.wall, ours.cpu, ours.peak_mib);
  std::printf("        anchor (%s): %.0f /s (wall %.2f s, CPU %.2f s)   ratio %.2f\n", anchor_name,
              static_cast<double>(n) / anchor.wall, anchor.wall, anchor.cpu,
              anchor.wall / ours.wall);
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = 10000;
  uint64_t large_mib = 0;
  std::string base = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  // A command to put before each satchel command (e.g. "strace -c -f"), for profiling.
  std::vector<std::string> wrapper;
  if (const char* w = std::getenv("BENCH_PULL_WRAPPER")) {
    std::string word;
    for (const char* c = w;; c++) {
      if (*c == ' ' || *c == 0) {
        if (!word.empty()) wrapper.push_back(word);
        word.clear();
        if (*c == 0) break;
      } else {
        word += *c;
      }
    }
  }
  auto satchel_command = [&](std::vector<std::string> args) {
    args.insert(args.begin(), wrapper.begin(), wrapper.end());
    return args;
  };
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--bundles")
      n = std::stoul(argv[i + 1]);
    else if (a == "--large-mib")
      large_mib = std::stoull(argv[i + 1]);
    else if (a == "--dir")
      base = argv[i + 1];
    else
      die("unknown option " + a);
  }
  if (sodium_init() < 0) die("sodium");
  const std::string satchel = program("SATCHEL", "satchel");
  const std::string relay_bin = program("SATCHEL_RELAY", "satchel-relay");
  const std::string curl = std::getenv("CURL") ? std::getenv("CURL") : "curl";

  World w;
  w.dir = base + "/bench-pull-" + std::to_string(getpid());
  w.relay_dir = w.dir + "/relay";
  fs::create_directories(w.relay_dir + "/storage");
  fs::create_directories(w.dir + "/bundles");
  auto cert = must(relay::generate_self_signed_certificate({"127.0.0.1"}, w.now), "cert");
  w.cert = w.relay_dir + "/cert.pem";
  std::ofstream(w.cert) << cert.certificate_pem;
  {
    std::ofstream k(w.relay_dir + "/key.pem");
    k << cert.key.private_key_pem;
  }
  fs::permissions(w.relay_dir + "/key.pem", fs::perms::owner_read | fs::perms::owner_write);
  w.pin = must(relay::certificate_pin(w.cert), "pin");
  w.port = free_port();
  w.url = "https://127.0.0.1:" + std::to_string(w.port);

  // The mailbox (k = 1), registered in the relay's storage before it starts.
  std::string mailbox;
  {
    relay::EmbeddedStoreOptions o;
    o.log = [](std::string_view) {};
    auto store = must(relay::EmbeddedRelayStore::open(w.relay_dir + "/storage",
                                                      static_cast<relay::Day>(w.now / 86400), o),
                      "store");
    relay::MailboxRegistry reg(*store, 30);
    RelayRegistration r;
    r.org = w.org.public_key();
    r.version = 1;
    r.issued_at = w.now - 60;
    r.required_acks = 1;
    r.coordinator_auth_keys = {w.coordinator.public_key().ed25519};
    auto text = must(r.sign(w.org), "registration");
    mailbox =
        must(reg.register_mailbox(text, static_cast<relay::Day>(w.now / 86400)), "mailbox").mailbox;
  }

  std::printf("sealing %zu small bundles…\n", n);
  std::vector<Bytes> bundles;
  uint64_t total_bytes = 0;
  for (size_t i = 0; i < n; i++) {
    bundles.push_back(w.seal_record(1000 + i, 900));
    total_bytes += bundles.back().size();
    std::ofstream(w.dir + "/bundles/" + std::to_string(i) + ".bundle", std::ios::binary)
        .write(reinterpret_cast<const char*>(bundles.back().data()),
               static_cast<std::streamsize>(bundles.back().size()));
  }
  std::printf("%zu bundles, %.0f bytes each on average\n", n,
              static_cast<double>(total_bytes) / static_cast<double>(n));
  store_uploads(w, mailbox, bundles);
  make_coordinator(w, w.dir + "/coord-pull");
  make_coordinator(w, w.dir + "/coord-folder");

  // The relay, with its default settings (only paths and the port set).
  relay::RelayConfig config;
  config.listen_host = "127.0.0.1";
  config.listen_port = w.port;
  config.certificate = w.cert;
  config.private_key = w.relay_dir + "/key.pem";
  config.storage = w.relay_dir + "/storage";
  std::ofstream(w.relay_dir + "/relay.conf") << relay::render_relay_config(config);
  Child relay =
      spawn({relay_bin, "serve", "--config", w.relay_dir + "/relay.conf"}, "", false, false);
  g_relay = relay.pid;
  for (int i = 0; i < 200 && !port_open(w.port); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!port_open(w.port)) die("the relay did not start");

  // Anchor: curl downloads every bundle over one TLS connection, in one session, in the same
  // fetch batches as the pull (schema/relay-api.md, "Bulk pulls"): the transfer alone.
  Side curl_side;
  {
    client::RelayClientOptions ro;
    auto url = must(client::parse_relay_url(w.url), "url");
    auto rc = must(client::RelayClient::create(url, {w.pin}, ro), "relay client");
    auto session = must(rc->open_session(w.coordinator, mailbox, w.now), "session");
    const std::string auth =
        "Authorization: Bearer " +
        std::string(reinterpret_cast<const char*>(session.data()), session.size());
    std::string cfg;
    for (size_t at = 0; at < bundles.size();) {
      nlohmann::json ids = nlohmann::json::array();
      uint64_t bytes = 0;
      while (at < bundles.size() && ids.size() < client::kMaxBatchUploads &&
             bytes + bundles[at].size() <= (8u << 20)) {
        ids.push_back(to_hex(Sha256::digest(bundles[at])));
        bytes += bundles[at++].size();
      }
      if (!cfg.empty()) cfg += "next\n";
      cfg += "cacert = \"" + w.cert + "\"\nsilent\nfail\nheader = \"" + auth +
             "\"\nheader = \"Content-Type: application/json\"\ndata-binary = \"" +
             escaped(nlohmann::json{{"ids", ids}}.dump()) + "\"\n";
      cfg += "url = \"" + w.url + "/v1/coordinator/uploads/fetch\"\noutput = \"/dev/null\"\n";
    }
    auto f = run({curl, "--config", "-"}, cfg);
    sodium_memzero(cfg.data(), cfg.size());
    curl_side = {f.wall, f.cpu, f.peak_mib};
  }
  // Ours: satchel coord pull, end to end (unlock, list, download, verify, import, acknowledge).
  auto pulled = run(satchel_command({satchel, "--home", w.dir + "/coord-pull", "--passphrase-fd",
                                     "3", "coord", "pull"}),
                    "", true);
  std::printf("pull: %s", pulled.out.c_str());
  report("pull", n, {pulled.wall, pulled.cpu, pulled.peak_mib}, "curl", curl_side);

  // Folder: satchel coord import beside open_bundle in memory.
  Side open_side;
  {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = self_cpu();
    for (const Bytes& b : bundles) {
      MemorySource src(b);
      StagedMemorySink out;
      must(open_bundle(src, w.coordinator.x25519(), std::nullopt, out), "open");
    }
    open_side = {seconds_since(t0), self_cpu() - c0, 0};
  }
  auto imported =
      run(satchel_command({satchel, "--home", w.dir + "/coord-folder", "--passphrase-fd", "3",
                           "coord", "import", w.dir + "/bundles"}),
          "", true);
  const std::string& last = imported.out;
  std::printf("import: %s", last.substr(last.rfind('\n', last.size() - 2) + 1).c_str());
  report("folder", n, {imported.wall, imported.cpu, imported.peak_mib}, "open_bundle in memory",
         open_side);
  bundles.clear();

  if (large_mib > 0) {
    std::printf("sealing one bundle of %llu MiB…\n", static_cast<unsigned long long>(large_mib));
    // Stopped while the upload is written into its storage, then started again.
    kill(relay.pid, SIGTERM);
    waitpid(relay.pid, nullptr, 0);
    Bytes big = w.seal_record(900, 100, large_mib << 20);
    store_uploads(w, mailbox, {big});
    const uint64_t size = big.size();
    Bytes().swap(big);
    relay = spawn({relay_bin, "serve", "--config", w.relay_dir + "/relay.conf"}, "", false, false);
    g_relay = relay.pid;
    for (int i = 0; i < 200 && !port_open(w.port); i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto big_pull =
        run({satchel, "--home", w.dir + "/coord-pull", "--passphrase-fd", "3", "coord", "pull"}, "",
            true);
    std::printf(
        "large: one bundle of %.0f MiB pulled and imported in %.1f s (CPU %.1f s), "
        "peak RSS %ld MiB (small bundles: %ld MiB)\n",
        static_cast<double>(size) / 1048576.0, big_pull.wall, big_pull.cpu, big_pull.peak_mib,
        pulled.peak_mib);
  }
  kill(relay.pid, SIGTERM);
  waitpid(relay.pid, nullptr, 0);
  std::printf("argon2id of the profiles: %llu KiB (the floor)\n",
              static_cast<unsigned long long>(client::kArgon2Floor.memory_kib));
  fs::remove_all(w.dir);
  return 0;
}
