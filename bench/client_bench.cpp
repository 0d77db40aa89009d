// Field-client benchmarks, each beside its anchor in the same run (bench/README.md):
//   records:  create + finalize N small records      vs  sealing N bundles, each to a file, synced
//   attach:   attach + finalize one large file        vs  sealing the same bytes file to file
// Wall time is the figure compared; CPU time (user + system) is printed beside it.
//   unlock:   opening the profile (both keyslots)     vs  one Argon2id at the same parameters
// Usage: bench_client [--records N] [--attach-mib M] [--calibrate SECONDS] [--dir DIR]
#include <sodium.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "satchel/client/finalize.h"
#include "satchel/client/keyslots.h"
#include "satchel/client/profile.h"
#include "satchel/client/record_store.h"
#include "satchel/client/trust_store.h"
#include "satchel/crypto/bundle.h"

using namespace satchel;
using namespace satchel::client;
namespace fs = std::filesystem;

namespace {

constexpr const char* kForm = R"({"id":"bench","version":1,"title":{"en":"Bench"},
 "languages":[{"code":"en","name":"English","rtl":false}],"default_language":"en",
 "questions":[{"id":"consent","type":"consent","label":{"en":"Agree?"},"required":true},
 {"id":"story","type":"long_text","label":{"en":"Story"}},
 {"id":"files","type":"attachment","label":{"en":"Files"},"accept":["document"]}]})";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

uint64_t tree_bytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

long peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

SecretBytes secret_of(std::string_view s) {
  SecretBytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

// Streams `size` pseudo-random bytes without holding them.
class RandomSource final : public ByteSource {
 public:
  explicit RandomSource(uint64_t size) : left_(size) {}
  Result<size_t> read(std::span<uint8_t> out) override {
    size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), left_));
    for (size_t i = 0; i < n; i++)
      out[i] =
          static_cast<uint8_t>(state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL);
    left_ -= n;
    return n;
  }

 private:
  uint64_t left_;
  uint64_t state_ = 1;
};

class NullSink final : public ByteSink {
 public:
  Status write(ByteView) override { return Status::Ok(); }
};

struct World {
  OrgSecretKey org = OrgSecretKey::generate();
  CoordinatorSecretKey a = CoordinatorSecretKey::generate(), b = CoordinatorSecretKey::generate(),
                       c = CoordinatorSecretKey::generate();
  int64_t now = static_cast<int64_t>(std::time(nullptr));

  void trust(Profile& p) {
    TrustStore t(p);
    if (!t.trust_organisation(org.public_key())) std::abort();
    Roster r;
    r.org = org.public_key();
    r.version = 1;
    r.issued_at = now - 10;
    r.expires_at = now + 86400;
    r.org_name = "Bench";
    r.slot_count = 3;
    r.coordinators = {{"A", a.public_key()}, {"B", b.public_key()}, {"C", c.public_key()}};
    Hash32 pin{}, backup{};
    pin.fill(1);
    backup.fill(2);
    r.relays = {{"https://relay.example.org", pin, backup}};
    if (!t.add_roster(r.sign(org).value(), now)) std::abort();
    auto pkg =
        FormEnvelope::sign_package(org, "bench", 1, as_bytes(std::string_view(kForm)), now).value();
    if (!t.add_form(pkg, "bench")) std::abort();
  }
};

}  // namespace

int main(int argc, char** argv) {
  int records = 1000;
  uint64_t attach_mib = 1024;
  double calibrate = 0.5;
  std::string dir = (fs::temp_directory_path() / "satchel-bench-client").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--records")
      records = std::atoi(argv[i + 1]);
    else if (a == "--attach-mib")
      attach_mib = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--calibrate")
      calibrate = std::atof(argv[i + 1]);
    else if (a == "--dir")
      dir = argv[i + 1];
    else {
      std::cerr
          << "usage: bench_client [--records N] [--attach-mib M] [--calibrate S] [--dir DIR]\n";
      return 2;
    }
  }
  crypto_init();
  fs::remove_all(dir);
  const SecretBytes pass = secret_of("bench passphrase");
  World w;

  // 1. Records: create + finalize, against sealing the same number of small bundles, each into a
  //    file of its own that is synced (the same durable work, without the profile).
  {
    const std::string home = dir + "/records";
    if (!Profile::create(home, pass, kArgon2Floor)) return 1;
    auto p = Profile::open(home, pass);
    if (!p) return 1;
    w.trust(*p);
    RecordStore store(*p);
    const std::string story(600, 'x');
    auto dev = DeviceSecretKey::generate();
    const Bytes body(700, 'x');
    fs::create_directories(dir + "/anchor-records");
    // Alternating rounds of records and anchor, so that a change of the machine's pace (other
    // load, the disk's write-back) falls on both; the ratio reported is the median of rounds.
    constexpr int kRounds = 5;
    double t = 0, t_cpu = 0, anchor = 0, anchor_cpu = 0;
    std::vector<double> ratios;
    int made = 0, sealed = 0;
    for (int round = 0; round < kRounds; round++) {
      const int n = records / kRounds + (round < records % kRounds ? 1 : 0);
      double c0 = cpu_seconds();
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < n; i++, made++) {
        auto id = store.create("bench", 1, {{"consent", true}, {"story", story}});
        if (!id || !finalize_record(*p, *id, w.now)) return 1;
      }
      const double rt = seconds_since(t0);
      t += rt;
      t_cpu += cpu_seconds() - c0;
      c0 = cpu_seconds();
      t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < n; i++, sealed++) {
        SealRequest req;
        req.sender = &dev;
        req.recipients = {w.a.public_key().x25519, w.b.public_key().x25519,
                          w.c.public_key().x25519};
        req.metadata.body_length = body.size();
        MemorySource src(body);
        auto out = FileSink::create(dir + "/anchor-records/" + std::to_string(sealed));
        if (!out || !seal_bundle(std::move(req), src, *out) || !out->commit()) return 1;
      }
      const double at = seconds_since(t0);
      anchor += at;
      anchor_cpu += cpu_seconds() - c0;
      if (n > 0) ratios.push_back(at / rt);
    }
    std::sort(ratios.begin(), ratios.end());
    const double median = ratios.empty() ? 0 : ratios[ratios.size() / 2];
    std::printf(
        "records   %d record+finalize: %.0f /s (CPU %.2f s)   anchor (seal to a file, synced): "
        "%.0f /s (CPU %.2f s)   ratio %.2f (median of %zu alternating rounds)   peak RSS %ld MiB\n",
        records, records / t, t_cpu, records / anchor, anchor_cpu, median, ratios.size(),
        peak_rss_mib());
  }

  // 2. Attach + finalize a large file, against sealing the same bytes file to file.
  if (attach_mib > 0) {
    const std::string home = dir + "/attach";
    const uint64_t size = attach_mib * 1024 * 1024;
    if (!Profile::create(home, pass, kArgon2Floor)) return 1;
    auto p = Profile::open(home, pass);
    if (!p) return 1;
    w.trust(*p);
    RecordStore store(*p);
    const uint64_t empty_profile = tree_bytes(home);
    double c0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    auto id = store.create("bench", 1, {{"consent", true}});
    RandomSource src(size);
    auto att = store.attach(*id, src, size, "files", "big.pdf", "document");
    if (!att) {
      std::cerr << att.error().message << "\n";
      return 1;
    }
    auto answers = store.answers(*id).value();
    answers["files"] = {*att};
    if (!store.save_answers(*id, answers)) return 1;
    const double t_attach = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    auto fin = finalize_record(*p, *id, w.now);
    if (!fin) {
      std::cerr << fin.error().message << "\n";
      return 1;
    }
    const double t_final = seconds_since(t0), t_cpu = cpu_seconds() - c0;
    const long rss = peak_rss_mib();
    // Growth of the profile on disk, against the bytes it must hold at some point: the attachment
    // while a draft, then the bundle.
    const double growth = static_cast<double>(tree_bytes(home) - empty_profile) /
                          static_cast<double>(size + fin->entry.size);
    // Anchor: the crypto alone, from a generated stream to a file in the same directory.
    auto dev = DeviceSecretKey::generate();
    SealRequest req;
    req.sender = &dev;
    req.recipients = {w.a.public_key().x25519, w.b.public_key().x25519, w.c.public_key().x25519};
    req.metadata.body_length = size;
    RandomSource src2(size);
    auto sink = FileSink::create(dir + "/anchor.bundle");
    c0 = cpu_seconds();
    t0 = std::chrono::steady_clock::now();
    if (!sink || !seal_bundle(std::move(req), src2, *sink) || !sink->commit()) return 1;
    const double anchor = seconds_since(t0), anchor_cpu = cpu_seconds() - c0;
    const double mib = static_cast<double>(size) / (1024 * 1024);
    std::printf(
        "attach    %llu MiB: attach %.1f MiB/s, finalize %.1f MiB/s, together %.1f MiB/s (CPU %.2f "
        "s)   anchor (seal file, synced): %.1f MiB/s (CPU %.2f s)   ratio %.2f   profile growth "
        "%.2f x (attachment + bundle)   peak RSS %ld MiB\n",
        static_cast<unsigned long long>(attach_mib), mib / t_attach, mib / t_final,
        mib / (t_attach + t_final), t_cpu, mib / anchor, anchor_cpu, anchor / (t_attach + t_final),
        growth, rss);
  }

  // 3. Unlock at calibrated parameters, against one Argon2id derivation with them.
  {
    const std::string home = dir + "/unlock";
    Argon2Params params = calibrate_argon2(calibrate);
    if (!Profile::create(home, pass, params)) return 1;
    auto t0 = std::chrono::steady_clock::now();
    auto p = Profile::open(home, pass);
    const double t = seconds_since(t0);
    if (!p) return 1;
    SecretBytes out(32);
    uint8_t salt[16] = {};
    t0 = std::chrono::steady_clock::now();
    if (crypto_pwhash(out.data(), 32, "bench passphrase", 16, salt, params.passes,
                      size_t{params.memory_kib} * 1024, crypto_pwhash_ALG_ARGON2ID13) != 0)
      return 1;
    const double anchor = seconds_since(t0);
    std::printf(
        "unlock    Argon2id %u passes, %u MiB: open %.2f s   anchor (one Argon2id): %.2f s   ratio "
        "%.2f (two keyslots are always tried)\n",
        params.passes, params.memory_kib / 1024, t, anchor, t / anchor);
  }
  fs::remove_all(dir);
  return 0;
}
