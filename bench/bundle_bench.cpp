// Bundle throughput in memory (seal; one-pass open) beside its anchors, libsodium secretstream
// and OpenSSL SHA-256, with a closing table of ratios so one run answers "how far from the floor".
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/bundle.h"
#include "satchel/crypto/io.h"
#include "satchel/crypto/keys.h"

namespace {

using satchel::Bytes;
using satchel::ByteView;

constexpr int64_t kMinSize = int64_t{4} << 10;   // 4 KiB
constexpr int64_t kMaxSize = int64_t{16} << 20;  // 16 MiB; with multiplier 16: 4K, 64K, 1M, 16M
constexpr uint16_t kRecipients = 3;

// A benchmark's precondition failed (a bug in this file or in crypto/): stop loudly.
[[noreturn]] void die(std::string_view what, const satchel::Error& e) {
  std::fprintf(stderr, "bench_bundle: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               e.message.c_str());
  std::abort();
}

// Keys and a random body shared by every benchmark: generated once, outside any timing.
struct Fixture {
  satchel::DeviceSecretKey device = satchel::DeviceSecretKey::generate();
  std::vector<satchel::CoordinatorSecretKey> coordinators;
  Bytes body = Bytes(static_cast<size_t>(kMaxSize));

  Fixture() {
    for (uint16_t i = 0; i < kRecipients; i++)
      coordinators.push_back(satchel::CoordinatorSecretKey::generate());
    randombytes_buf(body.data(), body.size());
  }

  static Fixture& get() {
    static Fixture f;
    return f;
  }

  satchel::SealRequest request(size_t body_length) const {
    satchel::SealRequest req;
    req.sender = &device;
    for (const auto& c : coordinators) req.recipients.push_back(c.public_key().x25519);
    req.slot_count = kRecipients;
    req.metadata.created_at = 1'700'000'000;
    req.metadata.content_type = satchel::ContentType::kRecord;
    req.metadata.body_length = body_length;
    return req;
  }
};

size_t arg_size(const benchmark::State& state) {
  return static_cast<size_t>(state.range(0));
}

void set_bytes(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_BundleSeal(benchmark::State& state) {
  auto& f = Fixture::get();
  const size_t n = arg_size(state);
  const ByteView body(f.body.data(), n);
  satchel::MemorySink sink;  // reused: its capacity survives clear(), so no page faults per run
  for (auto _ : state) {
    sink.data().clear();
    satchel::MemorySource src(body);
    auto sealed = satchel::seal_bundle(f.request(n), src, sink);
    if (!sealed) die("seal_bundle", sealed.error());
    benchmark::DoNotOptimize(sink.data().data());
  }
  set_bytes(state);
}

// A staging sink whose buffer is reused across iterations (its capacity survives, so no page
// faults per run), like the MemorySink of the seal benchmark.
class ReusedStagingSink final : public satchel::StagingSink {
 public:
  satchel::Status write(ByteView data) override {
    out_.insert(out_.end(), data.begin(), data.end());
    return satchel::Status::Ok();
  }
  satchel::Status commit() override { return satchel::Status::Ok(); }
  void discard() override { out_.clear(); }
  Bytes& data() { return out_; }

 private:
  Bytes out_;
};

// Opening as the CLI does it: open_bundle, one pass over the ciphertext, hashed on a helper
// thread while it is decrypted.
void BM_BundleOpen(benchmark::State& state) {
  auto& f = Fixture::get();
  const size_t n = arg_size(state);
  satchel::MemorySink bundle;
  {
    satchel::MemorySource src(ByteView(f.body.data(), n));
    auto sealed = satchel::seal_bundle(f.request(n), src, bundle);
    if (!sealed) die("seal_bundle", sealed.error());
  }
  const std::optional<satchel::DevicePublicKey> sender = f.device.public_key();
  ReusedStagingSink sink;
  for (auto _ : state) {
    sink.data().clear();
    satchel::MemorySource src(bundle.data());
    auto opened = satchel::open_bundle(src, f.coordinators.back().x25519(), sender, sink);
    if (!opened) die("open_bundle", opened.error());
    benchmark::DoNotOptimize(sink.data().data());
  }
  if (sink.data() != Bytes(f.body.begin(), f.body.begin() + static_cast<ptrdiff_t>(n)))
    state.SkipWithError("opened body differs from the sealed one");
  set_bytes(state);
}

// Anchor: the bundle's payload cipher alone, in the bundle's chunk size, no header or padding.
void BM_SecretstreamPush(benchmark::State& state) {
  auto& f = Fixture::get();
  const size_t n = arg_size(state);
  constexpr size_t kChunk = satchel::kBundleChunkSize;
  constexpr size_t kAbytes = crypto_secretstream_xchacha20poly1305_ABYTES;
  unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
  crypto_secretstream_xchacha20poly1305_keygen(key);
  Bytes out(n + (n / kChunk + 1) * kAbytes);
  for (auto _ : state) {
    crypto_secretstream_xchacha20poly1305_state st;
    unsigned char header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
    crypto_secretstream_xchacha20poly1305_init_push(&st, header, key);
    size_t in_pos = 0, out_pos = 0;
    while (in_pos < n) {
      const size_t len = std::min(kChunk, n - in_pos);
      const bool last = in_pos + len == n;
      unsigned long long written = 0;
      crypto_secretstream_xchacha20poly1305_push(
          &st, out.data() + out_pos, &written, f.body.data() + in_pos, len, nullptr, 0,
          last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
      in_pos += len;
      out_pos += static_cast<size_t>(written);
    }
    benchmark::DoNotOptimize(out.data());
  }
  sodium_memzero(key, sizeof key);
  set_bytes(state);
}

// Anchor: one SHA-256 over the body through EVP (CPU extensions where present); sealing hashes
// the whole bundle for its upload id.
void BM_Sha256(benchmark::State& state) {
  auto& f = Fixture::get();
  const size_t n = arg_size(state);
  unsigned char md[EVP_MAX_MD_SIZE];
  for (auto _ : state) {
    unsigned int md_len = 0;
    if (EVP_Digest(f.body.data(), n, md, &md_len, EVP_sha256(), nullptr) != 1)
      die("EVP_Digest", satchel::make_error(satchel::Errc::kInternal, "failed"));
    benchmark::DoNotOptimize(md);
  }
  set_bytes(state);
}

BENCHMARK(BM_BundleSeal)->RangeMultiplier(16)->Range(kMinSize, kMaxSize);
BENCHMARK(BM_BundleOpen)->RangeMultiplier(16)->Range(kMinSize, kMaxSize);
BENCHMARK(BM_SecretstreamPush)->RangeMultiplier(16)->Range(kMinSize, kMaxSize);
BENCHMARK(BM_Sha256)->RangeMultiplier(16)->Range(kMinSize, kMaxSize);

// The console report, plus the best bytes/second of each (benchmark, size) for the ratio table.
class RatioReporter final : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      auto it = r.counters.find("bytes_per_second");
      if (it == r.counters.end()) continue;
      double& best = rates_[r.run_name.function_name][r.run_name.args];
      if (it->second.value > best) best = it->second.value;
    }
  }

  void PrintRatios() const {
    auto& out = GetOutputStream();
    const auto& seal = rates_.find("BM_BundleSeal");
    const auto& open = rates_.find("BM_BundleOpen");
    const auto& push = rates_.find("BM_SecretstreamPush");
    const auto& sha = rates_.find("BM_Sha256");
    if (seal == rates_.end() && open == rates_.end()) return;
    auto rate = [&](auto family, const std::string& size) -> double {
      if (family == rates_.end()) return 0;
      auto it = family->second.find(size);
      return it == family->second.end() ? 0 : it->second;
    };
    auto cell = [](double num, double den) {
      char buf[32];
      if (num <= 0 || den <= 0)
        std::snprintf(buf, sizeof buf, "%12s", "-");
      else
        std::snprintf(buf, sizeof buf, "%12.2f", num / den);
      return std::string(buf);
    };
    char line[256];
    out << "\nThroughput (MiB/s) and ratios to the anchors (best run; 3 recipients, 3 slots):\n";
    std::snprintf(line, sizeof line, "%10s %10s %10s %10s %10s %12s %12s %12s %12s\n", "size",
                  "seal", "open", "sstream", "sha256", "seal/sstrm", "open/sstrm", "seal/sha",
                  "open/sha");
    out << line;
    for (int64_t size = kMinSize; size <= kMaxSize; size *= 16) {
      const std::string key = std::to_string(size);
      const double s = rate(seal, key), o = rate(open, key), p = rate(push, key),
                   h = rate(sha, key);
      constexpr double kMiB = 1024.0 * 1024.0;
      std::snprintf(line, sizeof line, "%10s %10.0f %10.0f %10.0f %10.0f", key.c_str(), s / kMiB,
                    o / kMiB, p / kMiB, h / kMiB);
      out << line << cell(s, p) << ' ' << cell(o, p) << ' ' << cell(s, h) << ' ' << cell(o, h)
          << '\n';
    }
  }

 private:
  // function name -> size argument -> best bytes per second
  std::map<std::string, std::map<std::string, double>> rates_;
};

// True unless the command line asks for a non-console format (then the library's own reporter
// runs and the ratio table is left out).
bool console_format(int argc, char** argv) {
  constexpr std::string_view kFlag = "--benchmark_format=";
  for (int i = 1; i < argc; i++) {
    const std::string_view arg = argv[i];
    if (arg.starts_with(kFlag) && arg.substr(kFlag.size()) != "console") return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 1;
  const bool console = console_format(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!console) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    RatioReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_Color
                                                 : benchmark::ConsoleReporter::OO_None);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    reporter.PrintRatios();
  }
  benchmark::Shutdown();
  return 0;
}
