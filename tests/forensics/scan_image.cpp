// TEST ONLY. The block-level forensic scanner: reads a raw ext4 image of a device whose owner was
// made to give up every passphrase, as a border examiner would, and reports what of the field
// client's data it can still read — allocated and free blocks alike. It knows the on-disk
// formats only from schema/client-database.md (profile_formats.h), SQLCipher 4's defaults and
// SQLite's WAL and rollback-journal records (sqlcipher_window.h) and the bundle header of
// schema/bundle-format.md. Every window below starts in a 4 KiB-aligned block of the image that
// is not all zeros (all-zero blocks are skipped):
//   1. raw search for canaries (ASCII, UTF-16LE, base64 at three alignments), upload ids (hex and
//      raw) and 32-byte samples of exported bundles (at 64 past the start of each 64 KiB piece of
//      the bundle, at a quarter, half and three quarters, and 96 before the end);
//   2. keyslot candidates (v1 96-byte and v2 128-byte slots whose parameters are the profile's),
//      each passphrase stretched once per candidate, every 8-aligned 32-byte window of the image
//      tried as the slot's secret (v2) or wipe key (v1), slot index 0 and 1;
//   3. with every database key recovered: page 1 (its salt) tried at every 1 KiB-aligned block,
//      every WAL frame of page 1 and every rollback-journal record of page 1; then other pages at
//      every 8-aligned offset whose preceding 24 bytes look like a WAL frame header (page number
//      from the header), every 4-aligned offset whose preceding 4 bytes are a big-endian page
//      number no larger than the image's page count (rollback-journal records: `data.db-journal`
//      keeps its pages at file offsets 4 mod 8), and every 1 KiB-aligned block (database files,
//      page number searched); HMAC first, then decrypted and searched;
//   4. with every keyring key recovered: every 8-aligned 72-byte window tried as a keyring slot;
//   5. draft blobs: after every known record id in a decrypted page, each of the next 300 offsets
//      (fewer if another known record id comes first) tried as a blob start with every recovered
//      key (version-1 rows also give their record key, read through the SQLite record header and
//      checked against the answers blob);
//   6. pool cells: with every recovered key (keyring slots: drafts' and outbox entries' keys;
//      version-1 rows), every 8-aligned offset whose next 24 bytes hold no all-zero 8-byte word
//      tried as a cell start (nonce 24 || XChaCha20-Poly1305 ciphertext): its first 512 bytes
//      decrypted without the tag (keystream from block 1) and searched for canaries, upload ids and
//      bundle samples; a plaintext that begins with a bundle header marks an outbox entry's key.
// Usage: forensic_scan [--expect-found CATEGORY,...] SPEC IMAGE
//   SPEC is a text file (secrets never go on the command line):
//     passphrase current|old TEXT      every passphrase the profile ever had
//     kdf PASSES MEMORY_KIB            optional: otherwise read from sane-looking slots
//     canary KIND TEXT                 finalized: of a finalized record, must be nowhere;
//                                      live: a remaining draft's answers (found only through the
//                                      blob chain); live-attachment: a remaining draft's document,
//                                      in the first 512 bytes of a chunk (found only through the
//                                      pool-cell chain); form: a form label (found only in
//                                      decrypted pages)
//     record live|finalized ID         record ids (32 hex)
//     upload ID                        upload id (64 hex) of a bundle that left the device
//     bundle PATH                      an exported copy of a bundle that left the device
//     expect opens N                   (slot, passphrase) pairs that open; default 1
//     expect record-keys N             distinct keys recovered; default: live records
//     expect journal-pages             a positive control: some page is decrypted from a
//                                      rollback-journal record
//   Without --expect-found, exit 0 only if nothing of a finalized record or sent bundle is found,
//   exactly the expected slots open (all with a current passphrase) and exactly the expected
//   keys are recovered, none of them opening a finalized record's blobs or cells or a sent
//   bundle's cells. With it, exit 0 only if every named category is found (a control run with
//   deliberate residue). Both modes require the positive controls: every live canary through the
//   blob chain, every live-attachment canary through the pool-cell chain, every form canary in
//   decrypted pages and, if asked, a page from a journal record. Exit 1 if not, 2 on misuse.
#include <fcntl.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "needle_search.h"
#include "profile_formats.h"
#include "sqlcipher_window.h"

namespace sf = satchel::forensics;
using sf::Key32;

namespace {

constexpr size_t kZeroBlock = 4096;  // all-zero blocks of this size are skipped
// The smallest ext4 block, where every file starts: mke2fs gives file systems under 512 MiB
// (its "small" type) 1 KiB blocks, so a 4096-byte database page need not be 4 KiB-aligned.
constexpr size_t kFsBlock = 1024;
constexpr size_t kBlobReach = 300;      // blob starts tried after a record id
constexpr size_t kCellReach = 512;      // plaintext bytes decrypted at each pool-cell start
constexpr size_t kBundlePiece = 65536;  // a bundle is sealed into the pool in pieces of this size
constexpr size_t kMaxCandidates = 64;   // distinct keyslot candidates (bounded work)
constexpr size_t kMaxParamSets = 4;
constexpr size_t kPrintCap = 40;  // findings printed per kind

// ---- Spec ---------------------------------------------------------------------------------
struct Spec {
  struct Passphrase {
    std::string text;
    bool current = false;
  };
  struct Canary {
    std::string text, kind;  // finalized | live | live-attachment | form
  };
  struct Record {
    std::string id;
    bool live = false;
  };
  std::vector<Passphrase> passphrases;
  std::optional<sf::Argon2Params> kdf;
  std::vector<Canary> canaries;
  std::vector<Record> records;
  std::vector<std::string> uploads, bundles;
  std::optional<size_t> expect_opens, expect_record_keys;
  bool expect_journal_pages = false;
};

bool is_hex(const std::string& s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Parses SPEC; throws std::runtime_error naming the line on anything it does not understand.
Spec read_spec(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read spec " + path);
  Spec spec;
  std::string line;
  for (int no = 1; std::getline(f, line); no++) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto bad = [&](const std::string& why) {
      return std::runtime_error(path + ":" + std::to_string(no) + ": " + why);
    };
    std::istringstream in(line);
    std::string word, kind;
    in >> word;
    // The rest of the line after the first two words, spaces kept.
    auto rest_after_two = [&]() -> std::string {
      size_t p = line.find(' ');
      p = p == std::string::npos ? p : line.find(' ', p + 1);
      if (p == std::string::npos || p + 1 >= line.size()) throw bad("missing text");
      return line.substr(p + 1);
    };
    if (word == "passphrase") {
      in >> kind;
      if (kind != "current" && kind != "old") throw bad("passphrase current|old TEXT");
      spec.passphrases.push_back({rest_after_two(), kind == "current"});
    } else if (word == "kdf") {
      sf::Argon2Params p;
      if (!(in >> p.passes >> p.memory_kib) || !sf::params_sane(p)) throw bad("kdf PASSES KIB");
      spec.kdf = p;
    } else if (word == "canary") {
      in >> kind;
      if (kind != "finalized" && kind != "live" && kind != "live-attachment" && kind != "form")
        throw bad("canary finalized|live|live-attachment|form TEXT");
      std::string text = rest_after_two();
      if (text.size() < 24) throw bad("a canary needs at least 24 characters");
      spec.canaries.push_back({text, kind});
    } else if (word == "record") {
      std::string id;
      in >> kind >> id;
      if ((kind != "live" && kind != "finalized") || !is_hex(id, 32))
        throw bad("record live|finalized ID (32 lower-case hex)");
      spec.records.push_back({id, kind == "live"});
    } else if (word == "upload") {
      std::string id;
      in >> id;
      if (!is_hex(id, 64)) throw bad("upload ID (64 lower-case hex)");
      spec.uploads.push_back(id);
    } else if (word == "bundle") {
      std::string p = line.substr(line.find(' ') + 1);
      spec.bundles.push_back(p);
    } else if (word == "expect") {
      size_t n = 0;
      in >> kind;
      if (kind == "journal-pages") {
        spec.expect_journal_pages = true;
        continue;
      }
      in >> n;
      if (!in) throw bad("expect opens|record-keys N, or expect journal-pages");
      if (kind == "opens")
        spec.expect_opens = n;
      else if (kind == "record-keys")
        spec.expect_record_keys = n;
      else
        throw bad("expect opens|record-keys N, or expect journal-pages");
    } else {
      throw bad("unknown directive '" + word + "'");
    }
  }
  if (spec.passphrases.empty()) throw std::runtime_error(path + ": no passphrase");
  return spec;
}

// ---- Output helpers -------------------------------------------------------------------------
std::string hex_offset(size_t off) {
  char b[32];
  std::snprintf(b, sizeof b, "0x%09zx", off);
  return b;
}
std::string hex_prefix(const uint8_t* p, size_t n = 4) {
  std::string s;
  char b[3];
  for (size_t i = 0; i < n; i++) {
    std::snprintf(b, sizeof b, "%02x", p[i]);
    s += b;
  }
  return s + "…";
}
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
std::vector<uint8_t> bytes_of(const std::string& s) {
  return {s.begin(), s.end()};
}
std::vector<uint8_t> from_hex(const std::string& h) {
  std::vector<uint8_t> out(h.size() / 2);
  for (size_t i = 0; i < out.size(); i++)
    out[i] = static_cast<uint8_t>(std::stoi(h.substr(2 * i, 2), nullptr, 16));
  return out;
}

// ---- Image ------------------------------------------------------------------------------------
class Image {
 public:
  explicit Image(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd_ < 0 || ::fstat(fd_, &st) != 0 || st.st_size <= 0)
      throw std::runtime_error("cannot read image " + path);
    size_ = static_cast<size_t>(st.st_size);
    void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (m == MAP_FAILED) throw std::runtime_error("cannot map image " + path);
    data_ = static_cast<const uint8_t*>(m);
    const size_t blocks = (size_ + kZeroBlock - 1) / kZeroBlock;
    nonzero_.resize(blocks);
    for (size_t b = 0; b < blocks; b++) {
      const size_t a = b * kZeroBlock, e = std::min(size_, a + kZeroBlock);
      nonzero_[b] = std::any_of(data_ + a, data_ + e, [](uint8_t c) { return c != 0; });
      nonzero_count_ += nonzero_[b];
    }
  }
  ~Image() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  Image(const Image&) = delete;
  Image& operator=(const Image&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  size_t nonzero_blocks() const { return nonzero_count_; }

  // Calls fn(offset) for every offset that is a multiple of `step`, lies in a non-zero block and
  // leaves `need` readable bytes.
  template <typename F>
  void for_each_window(size_t step, size_t need, F&& fn) const {
    for (size_t b = 0; b < nonzero_.size(); b++) {
      if (!nonzero_[b]) continue;
      const size_t end = std::min(size_, (b + 1) * kZeroBlock);
      for (size_t off = b * kZeroBlock; off < end && off + need <= size_; off += step) fn(off);
    }
  }
  // Calls fn(begin, end) for every maximal run of non-zero blocks.
  template <typename F>
  void for_each_run(F&& fn) const {
    for (size_t b = 0; b < nonzero_.size();) {
      if (!nonzero_[b]) {
        b++;
        continue;
      }
      size_t e = b;
      while (e < nonzero_.size() && nonzero_[e]) e++;
      fn(b * kZeroBlock, std::min(size_, e * kZeroBlock));
      b = e;
    }
  }

 private:
  int fd_ = -1;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::vector<bool> nonzero_;
  size_t nonzero_count_ = 0;
};

// ---- Needles and findings ---------------------------------------------------------------------
enum class NeedleKind { kCanary, kUpload, kBundle, kKey };
struct NeedleInfo {
  NeedleKind kind;
  size_t owner;         // canary, upload, bundle or key index
  std::string variant;  // ascii, utf16le, base64/0 … hex, raw, @offset
};
enum class Where { kRaw, kPage, kBlob, kCell };
const char* where_name(Where w) {
  switch (w) {
    case Where::kRaw:
      return "raw";
    case Where::kPage:
      return "page";
    case Where::kBlob:
      return "blob";
    case Where::kCell:
      return "cell";
  }
  return "?";
}
struct Needles;
struct Finding {
  Where where;
  size_t offset;  // in the image
  const Needles* set;
  size_t needle;
  std::string detail;
};

// The canary as stored raw, as UTF-16LE, and as base64 at each of the three alignments (the
// middle part that does not depend on what precedes it), as tests/client/test_forensics.cpp.
std::vector<std::pair<std::vector<uint8_t>, std::string>> canary_forms(const std::string& c) {
  std::vector<std::pair<std::vector<uint8_t>, std::string>> out;
  out.emplace_back(bytes_of(c), "ascii");
  std::vector<uint8_t> u16;
  for (char ch : c) {
    u16.push_back(static_cast<uint8_t>(ch));
    u16.push_back(0);
  }
  out.emplace_back(u16, "utf16le");
  for (size_t shift = 0; shift < 3; shift++) {
    const std::string padded = std::string(shift, 'x') + c;
    std::string b64(sodium_base64_ENCODED_LEN(padded.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const uint8_t*>(padded.data()),
                      padded.size(), sodium_base64_VARIANT_ORIGINAL);
    // Skip the characters that depend on the prefix; keep a long stable middle part.
    out.emplace_back(bytes_of(b64.substr((shift + 1) * 4 / 3 + 4, 16)),
                     "base64/" + std::to_string(shift));
  }
  return out;
}

struct Needles {
  sf::NeedleSet set;
  std::vector<NeedleInfo> info;
  void add(std::vector<uint8_t> bytes, NeedleInfo i) {
    set.add(std::move(bytes));
    info.push_back(std::move(i));
  }
};

// ---- The scan ----------------------------------------------------------------------------------
// Byte strings in lexicographic order, as std::less gives them; spelled out because GCC 12 at -O3
// reports a false -Wstringop-overread inside std::vector<uint8_t>'s operator<=>.
struct BytesLess {
  bool operator()(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) const {
    const size_t n = std::min(a.size(), b.size());
    const int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
    return c != 0 ? c < 0 : a.size() < b.size();
  }
};
struct Candidate {  // a distinct keyslot candidate and every offset it appears at
  std::vector<size_t> offsets;
  size_t room;
};
struct Open {
  size_t candidate, passphrase, secret_offset, secret_copies = 1;
  sf::OpenedSlot slot;
};
// Where an authentic page was found: a database file's block, a WAL frame, a journal record.
enum class PageSource { kBlock, kWalFrame, kJournal };
const char* source_name(PageSource s) {
  switch (s) {
    case PageSource::kBlock:
      return "block";
    case PageSource::kWalFrame:
      return "WAL frame";
    case PageSource::kJournal:
      return "journal record";
  }
  return "?";
}
struct Page {
  std::vector<size_t> offsets;      // every place in the image holding this page
  std::vector<PageSource> sources;  // per offset
  uint32_t pgno;
  size_t page_key;
  std::vector<uint8_t> plain;
};
struct RecordKey {  // a draft's or an outbox entry's key
  Key32 key;
  std::string source;  // "keyring" or "row"
  std::vector<size_t> offsets;
  std::set<std::string> records;     // record ids whose blobs it opens
  size_t cells = 0;                  // cell starts whose plaintext it makes meaningful
  size_t bundle_cells = 0;           // of which begin with a bundle header
  std::set<std::string> cell_finds;  // what those cells showed (needle kinds)
};

class Scanner {
 public:
  Scanner(const Spec& spec, const Image& image) : spec_(spec), img_(image) {}

  void run() {
    const auto t_all = std::chrono::steady_clock::now();
    std::cout << "image: " << img_.size() << " bytes, " << img_.nonzero_blocks()
              << " non-zero 4 KiB blocks (" << img_.nonzero_blocks() * kZeroBlock / 1024
              << " KiB scanned)\n";
    step("1 raw search", [&] { raw_search(); });
    step("2 keyslots", [&] { keyslots(); });
    step("3 database pages", [&] { pages(); });
    step("4 keyring slots", [&] { keyring(); });
    step("4b version-1 record rows", [&] { row_keys(); });
    step("3b search of decrypted pages", [&] { search_pages(); });
    step("5 draft blobs", [&] { blobs(); });
    step("6 pool cells", [&] { cells(); });
    std::cout << "scan time: " << seconds_since(t_all) << " s\n";
  }

  // Prints every finding and the expectations; true if they hold.
  bool report(const std::set<std::string>& expect_found);

 private:
  template <typename F>
  void step(const char* name, F&& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    std::printf("step %s: %.2f s\n", name, seconds_since(t0));
    std::fflush(stdout);
  }

  void build_needles();
  void raw_search();
  void keyslots();
  void pages();
  void add_page(size_t off, uint32_t pgno, size_t pk, PageSource source);
  std::string page_detail(const Page& p) const;
  void keyring();
  void row_keys();
  void search_pages();
  void blobs();
  void cells();
  size_t add_record_key(const Key32& k, const std::string& source, size_t offset);
  void find(Where where, const Needles& n, const uint8_t* data, size_t len, size_t starts,
            size_t image_offset, const std::string& detail);
  std::string label(const Needles& n, size_t i) const;
  std::string what(const NeedleInfo& info) const;
  std::vector<size_t> record_id_positions(const Page& p, const std::string& id) const;

  const Spec& spec_;
  const Image& img_;
  Needles needles_;  // canaries, upload ids, bundle samples
  Needles key_needles_;
  std::vector<Finding> findings_;
  std::map<std::vector<uint8_t>, Candidate, BytesLess> candidates_;
  std::vector<const Candidate*> candidate_list_;
  std::vector<std::vector<uint8_t>> candidate_bytes_;
  std::vector<Open> opens_;
  std::vector<Key32> db_keys_, keyring_keys_;
  std::vector<sf::PageKey> page_keys_;
  std::vector<Page> pages_;
  std::unordered_map<std::string, size_t> page_by_hash_;
  std::vector<RecordKey> record_keys_;
  std::set<size_t> decrypted_at_;
  size_t journal_pages_ = 0;  // authentic pages found in journal records
};

void Scanner::build_needles() {
  for (size_t i = 0; i < spec_.canaries.size(); i++)
    for (auto& [bytes, variant] : canary_forms(spec_.canaries[i].text))
      needles_.add(bytes, {NeedleKind::kCanary, i, variant});
  for (size_t i = 0; i < spec_.uploads.size(); i++) {
    needles_.add(bytes_of(spec_.uploads[i]), {NeedleKind::kUpload, i, "hex"});
    needles_.add(from_hex(spec_.uploads[i]), {NeedleKind::kUpload, i, "raw"});
  }
  for (size_t i = 0; i < spec_.bundles.size(); i++) {
    std::ifstream f(spec_.bundles[i], std::ios::binary);
    std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (b.size() < 160)
      throw std::runtime_error("bundle too small or unreadable: " + spec_.bundles[i]);
    // 64 bytes into each 64 KiB piece, within the first 512 bytes of each pool cell of the
    // bundle's outbox entry; and a few places in between.
    std::set<size_t> at = {b.size() / 4, b.size() / 2, 3 * b.size() / 4, b.size() - 96};
    for (size_t off = 64; off + 32 <= b.size(); off += kBundlePiece) at.insert(off);
    for (size_t off : at) {
      std::string where = "@";
      where += std::to_string(off);
      needles_.add(std::vector<uint8_t>(b.begin() + static_cast<ptrdiff_t>(off),
                                        b.begin() + static_cast<ptrdiff_t>(off + 32)),
                   {NeedleKind::kBundle, i, where});
    }
  }
}

std::string Scanner::label(const Needles& n, size_t i) const {
  const NeedleInfo& in = n.info[i];
  switch (in.kind) {
    case NeedleKind::kCanary: {
      const auto& c = spec_.canaries[in.owner];
      return c.kind + " canary \"" + c.text + "\" (" + in.variant + ")";
    }
    case NeedleKind::kUpload:
      return "upload id " + spec_.uploads[in.owner].substr(0, 16) + "… (" + in.variant + ")";
    case NeedleKind::kBundle:
      return "bytes of bundle " +
             spec_.bundles[in.owner].substr(spec_.bundles[in.owner].rfind('/') + 1) + " (" +
             in.variant + ")";
    case NeedleKind::kKey:
      return "record key #" + std::to_string(in.owner) + " " +
             hex_prefix(record_keys_[in.owner].key.data()) + " (raw)";
  }
  return "?";
}

// What a needle is, for the expectations: "<kind>-canary", "upload", "bundle" or "record-key".
std::string Scanner::what(const NeedleInfo& info) const {
  switch (info.kind) {
    case NeedleKind::kCanary:
      return spec_.canaries[info.owner].kind + "-canary";
    case NeedleKind::kUpload:
      return "upload";
    case NeedleKind::kBundle:
      return "bundle";
    case NeedleKind::kKey:
      return "record-key";
  }
  return "?";
}

void Scanner::find(Where where, const Needles& n, const uint8_t* data, size_t len, size_t starts,
                   size_t image_offset, const std::string& detail) {
  // Raw hits one by one; in a page or a blob, one finding per needle (first place, count).
  std::map<size_t, std::pair<size_t, size_t>> in_unit;  // needle -> (first position, count)
  n.set.find(data, len, starts, [&](size_t pos, size_t idx) {
    if (where == Where::kRaw) {
      findings_.push_back({where, image_offset + pos, &n, idx, detail});
      return;
    }
    auto [it, fresh] = in_unit.try_emplace(idx, pos, 0);
    it->second.second++;
    (void)fresh;
  });
  for (auto [idx, first] : in_unit)
    findings_.push_back(
        {where, image_offset + first.first, &n, idx,
         detail +
             (first.second > 1 ? " (" + std::to_string(first.second) + " times)" : std::string())});
}

void Scanner::raw_search() {
  build_needles();
  std::cout << "  " << needles_.info.size() << " needles (" << spec_.canaries.size()
            << " canaries, " << spec_.uploads.size() << " upload ids, " << spec_.bundles.size()
            << " bundles)\n";
  img_.for_each_run([&](size_t a, size_t e) {
    const size_t end = std::min(img_.size(), e + needles_.set.max_length());
    find(Where::kRaw, needles_, img_.data() + a, end - a, e - a, a, "");
  });
}

// True if the bytes around a slot candidate look like a slot: its salt, nonce and the start of
// its ciphertext (64 bytes of random data: about 57 distinct values, rarely a zero) are not the
// small integers and zero runs of file-system metadata, whose words can look like parameters.
bool slot_looks_random(const uint8_t* slot) {
  const uint8_t* salt = slot;
  const uint8_t* rest = slot + sf::kSlotNonceOffset;  // nonce and ciphertext
  std::array<bool, 256> seen{};
  size_t zeros = 0, distinct = 0;
  for (size_t i = 0; i < 64; i++) {
    const uint8_t b = i < sf::kSlotSaltSize ? salt[i] : rest[i - sf::kSlotSaltSize];
    zeros += b == 0;
    distinct += !seen[b];
    seen[b] = true;
  }
  return zeros <= 4 && distinct >= 40;
}

void Scanner::keyslots() {
  // A place where a slot could start: sane parameters at +16 and random-looking surroundings.
  auto slot_at = [&](size_t s) -> std::optional<sf::Argon2Params> {
    if (s + sf::kSlotSizeV1 > img_.size()) return std::nullopt;
    const auto p = sf::slot_params(img_.data() + s);
    if (!sf::params_sane(p) || !slot_looks_random(img_.data() + s)) return std::nullopt;
    return p;
  };
  // The parameters: from the spec, or read from slot pairs (slot 1 carries slot 0's parameters,
  // 96 bytes on in v1, 128 in v2), most frequent first.
  std::vector<sf::Argon2Params> params;
  if (spec_.kdf) {
    params.push_back(*spec_.kdf);
  } else {
    std::map<sf::Argon2Params, size_t> seen;
    img_.for_each_window(8, 8, [&](size_t q) {
      if (q < sf::kSlotParamsOffset) return;
      const size_t s = q - sf::kSlotParamsOffset;
      const auto p = slot_at(s);
      if (!p) return;
      for (size_t twin : {s + sf::kSlotSizeV1, s + sf::kSlotSizeV2})
        if (slot_at(twin) == p) seen[*p]++;
    });
    std::vector<std::pair<size_t, sf::Argon2Params>> by_count;
    for (auto& [p, n] : seen) by_count.emplace_back(n, p);
    std::sort(by_count.rbegin(), by_count.rend());
    for (size_t i = 0; i < by_count.size() && i < kMaxParamSets; i++)
      params.push_back(by_count[i].second);
    for (auto& [n, p] : by_count)
      std::cout << "  parameters of slot pairs: " << p.passes << " passes, " << p.memory_kib
                << " KiB at " << n << " places\n";
  }
  img_.for_each_window(8, 8, [&](size_t q) {
    if (q < sf::kSlotParamsOffset) return;
    const size_t s = q - sf::kSlotParamsOffset;
    const auto p = slot_at(s);
    if (!p || std::find(params.begin(), params.end(), *p) == params.end()) return;
    const size_t room = std::min(sf::kSlotSizeV2, img_.size() - s);
    std::vector<uint8_t> bytes(img_.data() + s, img_.data() + s + room);
    auto [it, fresh] = candidates_.try_emplace(bytes, Candidate{{}, room});
    it->second.offsets.push_back(s);
    (void)fresh;
  });
  if (candidates_.size() > kMaxCandidates)
    throw std::runtime_error("more than " + std::to_string(kMaxCandidates) +
                             " distinct keyslot candidates: give `kdf` in the spec");
  for (auto& [bytes, c] : candidates_) {
    candidate_list_.push_back(&c);
    candidate_bytes_.push_back(bytes);
  }
  std::cout << "  " << candidates_.size() << " distinct keyslot candidates\n";

  // Each passphrase stretched once per candidate.
  struct Trial {
    size_t candidate, passphrase;
    sf::SlotTrial trial;
  };
  std::vector<Trial> trials;
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t c = 0; c < candidate_list_.size(); c++) {
    const uint8_t* slot = candidate_bytes_[c].data();
    for (size_t i = 0; i < spec_.passphrases.size(); i++) {
      Key32 stretched;
      if (!sf::stretch_passphrase(spec_.passphrases[i].text, slot, sf::slot_params(slot),
                                  stretched))
        throw std::runtime_error("Argon2id failed (memory?)");
      trials.push_back({c, i, sf::SlotTrial(slot, candidate_list_[c]->room, stretched)});
    }
  }
  std::printf("  %zu Argon2id derivations: %.2f s\n", trials.size(), seconds_since(t0));

  // Every 8-aligned 32-byte window as the secret. A window holding an all-zero 8-byte word is not
  // a random key (probability 2^-62) and is skipped.
  size_t windows = 0;
  std::map<std::pair<size_t, size_t>, size_t> open_index;
  img_.for_each_window(8, 32, [&](size_t w) {
    const uint8_t* p = img_.data() + w;
    for (size_t k = 0; k < 32; k += 8) {
      uint64_t v;
      std::memcpy(&v, p + k, 8);
      if (v == 0) return;
    }
    windows++;
    sf::SlotTrial::SecretState st;
    sf::SlotTrial::begin(p, st);
    for (auto& t : trials) {
      auto o = t.trial.try_secret(st);
      if (!o) continue;
      auto key = std::make_pair(t.candidate, t.passphrase);
      auto it = open_index.find(key);
      if (it != open_index.end()) {
        opens_[it->second].secret_copies++;
        continue;
      }
      open_index[key] = opens_.size();
      opens_.push_back({t.candidate, t.passphrase, w, 1, *o});
    }
  });
  std::cout << "  " << windows << " windows tried as secrets against " << trials.size()
            << " (slot, passphrase) trials\n";
  for (const auto& o : opens_) {
    if (std::find(db_keys_.begin(), db_keys_.end(), o.slot.db_key) == db_keys_.end())
      db_keys_.push_back(o.slot.db_key);
    if (o.slot.keyring_key && std::find(keyring_keys_.begin(), keyring_keys_.end(),
                                        *o.slot.keyring_key) == keyring_keys_.end())
      keyring_keys_.push_back(*o.slot.keyring_key);
  }
}

void Scanner::add_page(size_t off, uint32_t pgno, size_t pk, PageSource source) {
  decrypted_at_.insert(off);
  std::vector<uint8_t> plain(sf::kPageSize);
  page_keys_[pk].decrypt(img_.data() + off, pgno, plain.data());
  uint8_t h[16];
  crypto_generichash(h, sizeof h, plain.data(), plain.size(), nullptr, 0);
  std::string hash(reinterpret_cast<const char*>(h), sizeof h);
  auto it = page_by_hash_.find(hash);
  if (it != page_by_hash_.end()) {
    pages_[it->second].offsets.push_back(off);
    pages_[it->second].sources.push_back(source);
    return;
  }
  page_by_hash_[hash] = pages_.size();
  pages_.push_back({{off}, {source}, pgno, pk, std::move(plain)});
}

// "page 5 (journal record), db salt 1a2b3c4d…, 3 copies (1 block, 2 journal records)"
std::string Scanner::page_detail(const Page& p) const {
  std::string d = "page " + std::to_string(p.pgno) + " (" + source_name(p.sources[0]) +
                  "), db salt " + hex_prefix(page_keys_[p.page_key].salt().data()) + ", " +
                  std::to_string(p.offsets.size()) + " cop" + (p.offsets.size() == 1 ? "y" : "ies");
  if (p.offsets.size() == 1) return d;
  std::string by;
  for (auto src : {PageSource::kBlock, PageSource::kWalFrame, PageSource::kJournal}) {
    const auto n = std::count(p.sources.begin(), p.sources.end(), src);
    if (n == 0) continue;
    by +=
        (by.empty() ? "" : ", ") + std::to_string(n) + " " + source_name(src) + (n > 1 ? "s" : "");
  }
  return d + " (" + by + ")";
}

void Scanner::pages() {
  const uint32_t image_pages = static_cast<uint32_t>(img_.size() / sf::kPageSize);
  // Page 1 (and so the salt) at every file-system block, every WAL frame of page 1 and every
  // journal record of page 1.
  std::vector<std::pair<size_t, PageSource>> page1_candidates;
  img_.for_each_window(4, sf::kPageSize, [&](size_t w) {
    if (w % 8 == 0 && sf::wal_frame_pgno(img_.data(), w, image_pages) == 1)
      page1_candidates.emplace_back(w, PageSource::kWalFrame);
    else if (w % kFsBlock == 0)
      page1_candidates.emplace_back(w, PageSource::kBlock);
    else if (sf::journal_record_pgno(img_.data(), w, image_pages) == 1)
      page1_candidates.emplace_back(w, PageSource::kJournal);
  });
  for (const Key32& key : db_keys_) {
    for (auto [w, source] : page1_candidates) {
      sf::Salt16 salt;
      std::memcpy(salt.data(), img_.data() + w, salt.size());
      if (std::all_of(salt.begin(), salt.end(), [](uint8_t b) { return b == 0; })) continue;
      sf::PageKey pk(key, salt);
      if (!pk.authentic(img_.data() + w, 1)) continue;
      size_t index = page_keys_.size();
      for (size_t i = 0; i < page_keys_.size(); i++)
        if (page_keys_[i].key() == key && page_keys_[i].salt() == salt) index = i;
      if (index == page_keys_.size()) {
        page_keys_.push_back(pk);
        std::cout << "  database salt " << hex_prefix(salt.data()) << " under db key "
                  << hex_prefix(key.data()) << ": page 1 at " << hex_offset(w) << " ("
                  << source_name(source) << ")\n";
      }
      add_page(w, 1, index, source);
    }
  }
  uint32_t max_pgno = 1;
  for (const auto& p : pages_)
    if (p.pgno == 1) max_pgno = std::max(max_pgno, sf::header_page_count(p.plain.data()));

  // WAL frames (old profiles): every 8-aligned offset whose preceding 24 bytes look like a frame
  // header. Journal records: every 4-aligned offset whose preceding 4 bytes are a page number.
  size_t frame_tries = 0, record_tries = 0;
  auto try_numbered = [&](size_t w, uint32_t pgno, PageSource source) {
    for (size_t i = 0; i < page_keys_.size(); i++)
      if (page_keys_[i].authentic(img_.data() + w, pgno)) {
        add_page(w, pgno, i, source);
        max_pgno = std::max(max_pgno, pgno);
        return;
      }
  };
  if (!page_keys_.empty())
    img_.for_each_window(4, sf::kPageSize, [&](size_t w) {
      if (decrypted_at_.count(w)) return;
      if (w % 8 == 0) {
        const uint32_t pgno = sf::wal_frame_pgno(img_.data(), w, image_pages);
        if (pgno >= 2) {
          frame_tries++;
          try_numbered(w, pgno, PageSource::kWalFrame);
          if (decrypted_at_.count(w)) return;
        }
      }
      const uint32_t pgno = sf::journal_record_pgno(img_.data(), w, image_pages);
      if (pgno < 2) return;
      record_tries++;
      try_numbered(w, pgno, PageSource::kJournal);
    });
  // Database files: every file-system block, page number searched up to the largest seen.
  max_pgno = std::min(image_pages, max_pgno + 64);
  size_t block_tries = 0;
  if (!page_keys_.empty())
    img_.for_each_window(kFsBlock, sf::kPageSize, [&](size_t w) {
      if (decrypted_at_.count(w)) return;
      block_tries++;
      for (size_t i = 0; i < page_keys_.size(); i++)
        if (uint32_t pgno = page_keys_[i].find_page_number(img_.data() + w, max_pgno)) {
          add_page(w, pgno, i, PageSource::kBlock);
          break;
        }
    });
  size_t copies = 0, in_frames = 0, in_records = 0;
  for (const auto& p : pages_) {
    copies += p.offsets.size();
    in_frames += std::count(p.sources.begin(), p.sources.end(), PageSource::kWalFrame);
    in_records += std::count(p.sources.begin(), p.sources.end(), PageSource::kJournal);
  }
  journal_pages_ = in_records;
  std::cout << "  " << page_keys_.size() << " (db key, salt) pairs; " << frame_tries
            << " WAL-frame-like windows, " << record_tries << " journal-record-like windows and "
            << block_tries << " blocks (page numbers 2.." << max_pgno << ") checked; " << copies
            << " authentic pages (" << in_frames << " in WAL frames, " << in_records
            << " in journal records), " << pages_.size() << " distinct\n";
}

size_t Scanner::add_record_key(const Key32& k, const std::string& source, size_t offset) {
  for (size_t i = 0; i < record_keys_.size(); i++)
    if (record_keys_[i].key == k) {
      record_keys_[i].offsets.push_back(offset);
      if (record_keys_[i].source.find(source) == std::string::npos)
        record_keys_[i].source += "+" + source;
      return i;
    }
  record_keys_.push_back({k, source, {offset}, {}, 0, 0, {}});
  return record_keys_.size() - 1;
}

void Scanner::keyring() {
  for (const Key32& kk : keyring_keys_) {
    img_.for_each_window(8, sf::kKeyringSlotUsed, [&](size_t w) {
      uint64_t v;
      std::memcpy(&v, img_.data() + w, 8);
      if (v == 0) return;  // a zero nonce word: not a slot
      if (auto k = sf::open_keyring_slot(img_.data() + w, kk)) add_record_key(*k, "keyring", w);
    });
  }
  std::cout << "  " << record_keys_.size() << " keys from keyring slots\n";
}

std::vector<size_t> Scanner::record_id_positions(const Page& p, const std::string& id) const {
  std::vector<size_t> at;
  const uint8_t* b = p.plain.data();
  const uint8_t* e = b + sf::kIvOffset;
  for (const uint8_t* it = b; (it = std::search(it, e, id.begin(), id.end())) != e; it++)
    at.push_back(static_cast<size_t>(it - b));
  return at;
}

void Scanner::row_keys() {
  size_t rows = 0;
  for (const Page& p : pages_)
    for (const auto& r : spec_.records)
      for (size_t pos : record_id_positions(p, r.id)) {
        auto row = sf::parse_records_row(p.plain.data(), sf::kIvOffset, pos);
        if (!row || row->key_pos + 32 > sf::kIvOffset) continue;
        rows++;
        Key32 k;
        std::memcpy(k.data(), p.plain.data() + row->key_pos, 32);
        bool ok = false;
        if (row->answers_pos + row->answers_len <= sf::kIvOffset) {
          ok = sf::open_blob(p.plain.data() + row->answers_pos, row->answers_len,
                             sf::answers_ad(r.id), k);
        } else if (row->answers_pos + sf::kBlobNonce + 16 <= sf::kIvOffset) {
          uint8_t out[16];
          sf::blob_keystream_xor(p.plain.data() + row->answers_pos,
                                 p.plain.data() + row->answers_pos + sf::kBlobNonce, sizeof out, k,
                                 out);
          ok = out[0] == '{' && out[1] == '"' &&
               std::all_of(out, out + sizeof out, [](uint8_t c) { return c >= 0x20 && c < 0x7f; });
        }
        if (ok) {
          const size_t i = add_record_key(k, "row", p.offsets[0] + row->key_pos);
          record_keys_[i].records.insert(r.id);
        }
      }
  std::cout << "  " << rows << " version-1 `records` rows parsed\n";
}

void Scanner::search_pages() {
  for (size_t i = 0; i < record_keys_.size(); i++)
    if (record_keys_[i].source.find("keyring") != std::string::npos) {
      key_needles_.add(std::vector<uint8_t>(record_keys_[i].key.begin(), record_keys_[i].key.end()),
                       {NeedleKind::kKey, i, "raw"});
    }
  for (const Page& p : pages_) {
    const std::string detail = page_detail(p);
    find(Where::kPage, needles_, p.plain.data(), sf::kIvOffset, sf::kIvOffset, p.offsets[0],
         detail);
    find(Where::kPage, key_needles_, p.plain.data(), sf::kIvOffset, sf::kIvOffset, p.offsets[0],
         detail);
  }
  if (key_needles_.info.empty()) return;
  img_.for_each_run([&](size_t a, size_t e) {
    const size_t end = std::min(img_.size(), e + 32);
    find(Where::kRaw, key_needles_, img_.data() + a, end - a, e - a, a, "");
  });
}

void Scanner::blobs() {
  std::vector<uint8_t> out(sf::kPageSize);
  size_t tries = 0, live_ids = 0, finalized_ids = 0;
  for (const Page& p : pages_) {
    // Every known record id in the page, in order: a blob belongs to the id nearest before it
    // (the next id begins another row), so the starts tried after one id stop at the next.
    std::vector<std::pair<size_t, size_t>> ids;  // (position, record index)
    for (size_t i = 0; i < spec_.records.size(); i++)
      for (size_t pos : record_id_positions(p, spec_.records[i].id)) ids.emplace_back(pos, i);
    std::sort(ids.begin(), ids.end());
    for (const auto& id : ids) (spec_.records[id.second].live ? live_ids : finalized_ids)++;
    for (size_t j = 0; j < ids.size(); j++) {
      const auto [pos, ri] = ids[j];
      const auto& r = spec_.records[ri];
      const size_t stop =
          std::min(pos + 32 + kBlobReach, j + 1 < ids.size() ? ids[j + 1].first : sf::kIvOffset);
      for (size_t b = pos + 32; b < stop; b++) {
        if (b + sf::kBlobNonce + 16 > sf::kIvOffset) break;
        const size_t n = sf::kIvOffset - b - sf::kBlobNonce;
        for (size_t k = 0; k < record_keys_.size(); k++) {
          tries++;
          sf::blob_keystream_xor(p.plain.data() + b, p.plain.data() + b + sf::kBlobNonce, n,
                                 record_keys_[k].key, out.data());
          const bool json = out[0] == '{' && out[1] == '"' &&
                            std::all_of(out.begin(), out.begin() + 16,
                                        [](uint8_t c) { return c >= 0x20 && c < 0x7f; });
          bool hit = false;
          needles_.set.find(out.data(), n, n, [&](size_t, size_t) { hit = true; });
          if (!json && !hit) continue;
          // A JSON-looking start is only a hint (no tag is checked: the length is unknown), and
          // a live draft's own blob may lie within reach of a finalized record's id in an old
          // page: only a canary makes a key "open" a finalized record's blob.
          if (hit || r.live) record_keys_[k].records.insert(r.id);
          if (hit)
            find(Where::kBlob, needles_, out.data(), n, n, p.offsets[0] + b + sf::kBlobNonce,
                 "blob of record " + r.id.substr(0, 8) + "… at +" + std::to_string(b - pos) +
                     " after its id, page " + std::to_string(p.pgno) + " (" +
                     source_name(p.sources[0]) + "), key #" + std::to_string(k) + " (" +
                     record_keys_[k].source + ")");
        }
      }
    }
  }
  std::cout << "  record ids in decrypted pages: " << live_ids << " of live drafts, "
            << finalized_ids << " of finalized records; " << tries
            << " (blob start, key) pairs decrypted\n";
}

// True if `p` begins like a sealed bundle (schema/bundle-format.md, "Header"): version 0x01, flags
// 0x00, 1 <= N <= 64 slots (u16 LE), 4096 <= P <= 2^40 padded bytes (u64 LE). By chance: 2^-50.
bool bundle_header(const uint8_t* p) {
  const unsigned n = p[2] | (unsigned{p[3]} << 8);
  uint64_t padded = 0;
  for (size_t i = 0; i < 8; i++) padded |= uint64_t{p[4 + i]} << (8 * i);
  return p[0] == 0x01 && p[1] == 0x00 && n >= 1 && n <= 64 && padded >= 4096 &&
         padded <= (uint64_t{1} << 40);
}

void Scanner::cells() {
  size_t starts = 0, opened = 0;
  std::vector<uint8_t> out(kCellReach);
  if (!record_keys_.empty())
    img_.for_each_window(8, sf::kBlobNonce + kCellReach, [&](size_t w) {
      const uint8_t* cell = img_.data() + w;
      for (size_t i = 0; i < sf::kBlobNonce; i += 8) {  // a random nonce has no zero word
        uint64_t v;
        std::memcpy(&v, cell + i, 8);
        if (v == 0) return;
      }
      starts++;
      for (size_t k = 0; k < record_keys_.size(); k++) {
        RecordKey& rk = record_keys_[k];
        sf::blob_keystream_xor(cell, cell + sf::kBlobNonce, kCellReach, rk.key, out.data());
        const bool bundle = bundle_header(out.data());
        std::set<std::string> hits;
        needles_.set.find(out.data(), kCellReach, kCellReach,
                          [&](size_t, size_t i) { hits.insert(what(needles_.info[i])); });
        if (!bundle && hits.empty()) continue;
        opened++;
        rk.cells++;
        rk.bundle_cells += bundle;
        rk.cell_finds.insert(hits.begin(), hits.end());
        if (bundle) rk.cell_finds.insert("bundle header");
        find(Where::kCell, needles_, out.data(), kCellReach, kCellReach, w + sf::kBlobNonce,
             "cell at " + hex_offset(w) + ", key #" + std::to_string(k) + " (" + rk.source + ")" +
                 (bundle ? ", begins with a bundle header" : ""));
      }
    });
  std::cout << "  " << starts << " cell starts tried with " << record_keys_.size() << " keys ("
            << starts * record_keys_.size() << " decryptions of " << kCellReach << " bytes); "
            << opened << " (cell, key) pairs show a needle or a bundle header\n";
}

bool Scanner::report(const std::set<std::string>& expect_found) {
  auto is_current = [&](size_t pass) { return spec_.passphrases[pass].current; };
  auto is_finalized = [&](const std::string& id) {
    for (const auto& r : spec_.records)
      if (r.id == id) return !r.live;
    return false;
  };

  // Where a v2 slot opens, whether it sits in a valid generation block (slot 0 at block + 8).
  auto generation = [&](const Open& o, size_t off) -> std::string {
    if (o.slot.version != 2) return "";
    const size_t at =
        sf::kKeyslotsGenerationSlot0 + sf::kSlotSizeV2 * static_cast<size_t>(o.slot.index);
    if (off < at) return ", not in a generation block";
    const size_t block = off - at;
    auto counter = sf::keyslots_generation(img_.data() + block, img_.size() - block);
    return counter ? ", in a valid generation block at " + hex_offset(block) + " (counter " +
                         std::to_string(*counter) + ")"
                   : ", NOT in a valid generation block (a stale copy)";
  };
  std::cout << "\n== keyslots that open ==\n";
  for (const auto& o : opens_)
    for (size_t off : candidate_list_[o.candidate]->offsets)
      std::cout << "OPEN slot at " << hex_offset(off) << " (v" << o.slot.version << ", index "
                << o.slot.index << ") with passphrase #" << o.passphrase << " ("
                << (is_current(o.passphrase) ? "current" : "old") << "), secret at "
                << hex_offset(o.secret_offset) << " (" << o.secret_copies << " cop"
                << (o.secret_copies == 1 ? "y" : "ies") << "): db key "
                << hex_prefix(o.slot.db_key.data())
                << (o.slot.keyring_key ? ", keyring key " + hex_prefix(o.slot.keyring_key->data())
                                       : std::string())
                << generation(o, off) << "\n";
  if (opens_.empty()) std::cout << "(none)\n";

  std::cout << "\n== keys recovered (drafts' and outbox entries') ==\n";
  for (size_t i = 0; i < record_keys_.size(); i++) {
    const auto& k = record_keys_[i];
    std::cout << "KEY #" << i << " " << hex_prefix(k.key.data()) << " from " << k.source << " at "
              << hex_offset(k.offsets[0]) << " (" << k.offsets.size() << " cop"
              << (k.offsets.size() == 1 ? "y" : "ies") << "), opens blobs of:";
    for (const auto& r : k.records)
      std::cout << " " << r << (is_finalized(r) ? " (FINALIZED)" : " (live)");
    if (k.records.empty()) std::cout << " (none seen)";
    std::cout << "; pool cells: " << k.cells;
    if (k.cells) {
      std::cout << " showing";
      for (const auto& f : k.cell_finds) std::cout << " [" << f << "]";
    }
    if (k.bundle_cells) std::cout << " (an outbox entry's key)";
    std::cout << "\n";
  }
  if (record_keys_.empty()) std::cout << "(none)\n";

  // Findings, grouped by what was found and where.
  std::cout << "\n== findings ==\n";
  std::map<std::string, std::vector<const Finding*>> groups;
  std::map<std::string, std::set<std::string>> found;  // canary kind or thing -> wheres
  for (const auto& f : findings_) {
    const Needles& n = *f.set;
    const size_t idx = f.needle;
    const NeedleInfo& info = n.info[idx];
    found[what(info)].insert(where_name(f.where));
    if (info.kind == NeedleKind::kCanary)
      found["canary#" + std::to_string(info.owner)].insert(where_name(f.where));
    groups[std::string(where_name(f.where)) + " " + label(n, idx)].push_back(&f);
  }
  for (const auto& [name, list] : groups) {
    std::cout << "FOUND [" << name << "] " << list.size() << " time(s)\n";
    for (size_t i = 0; i < list.size() && i < kPrintCap; i++)
      std::cout << "    at " << hex_offset(list[i]->offset)
                << (list[i]->detail.empty() ? "" : "  " + list[i]->detail) << "\n";
    if (list.size() > kPrintCap) std::cout << "    … and " << list.size() - kPrintCap << " more\n";
  }
  if (groups.empty()) std::cout << "(none)\n";

  auto in = [&](const std::string& what, const std::string& where) {
    auto it = found.find(what);
    return it != found.end() && it->second.count(where) > 0;
  };
  // A key of a finalized record or of a sent bundle: it opens a finalized record's blobs, or
  // cells that show a finalized canary or a sent bundle's bytes.
  size_t finalized_keys = 0;
  for (const auto& k : record_keys_)
    if (std::any_of(k.records.begin(), k.records.end(), is_finalized) ||
        k.cell_finds.count("finalized-canary") || k.cell_finds.count("bundle") ||
        k.cell_finds.count("upload"))
      finalized_keys++;
  size_t old_opens = 0, current_opens = 0;
  for (const auto& o : opens_)
    (is_current(o.passphrase) ? current_opens : old_opens) +=
        candidate_list_[o.candidate]->offsets.size();

  std::cout << "\n== expectations ==\n";
  bool all_ok = true;
  auto expect = [&](bool ok, const std::string& what) {
    std::cout << (ok ? "ok   " : "FAIL ") << what << "\n";
    all_ok = all_ok && ok;
  };
  // Positive controls, in both modes: the scanner sees what is there.
  for (size_t i = 0; i < spec_.canaries.size(); i++) {
    const auto& c = spec_.canaries[i];
    const std::string id = "canary#" + std::to_string(i);
    if (c.kind == "live") {
      expect(in(id, "blob"), "positive control: the live draft's canary \"" + c.text +
                                 "\" is read through the blob chain");
      expect(!in(id, "raw") && !in(id, "page"),
             "the live draft's canary \"" + c.text + "\" is not in clear, raw or in a page");
    } else if (c.kind == "live-attachment") {
      expect(in(id, "cell"), "positive control: the live draft's attachment canary \"" + c.text +
                                 "\" is read through the pool-cell chain");
      expect(!in(id, "raw") && !in(id, "page"), "the live draft's attachment canary \"" + c.text +
                                                    "\" is not in clear, raw or in a page");
    } else if (c.kind == "form") {
      expect(in(id, "page"),
             "positive control: the form canary \"" + c.text + "\" is read in decrypted pages");
      expect(!in(id, "raw"), "the form canary \"" + c.text + "\" is not in clear on the disk");
    }
  }
  if (spec_.expect_journal_pages)
    expect(journal_pages_ > 0,
           "positive control: pages are decrypted from rollback-journal "
           "records (found " +
               std::to_string(journal_pages_) + ")");
  if (expect_found.empty()) {
    for (const char* where : {"raw", "page", "blob", "cell"})
      expect(!in("finalized-canary", where),
             std::string("no canary of a finalized record (") + where + ")");
    for (const char* where : {"raw", "page", "blob", "cell"})
      expect(!in("upload", where) && !in("bundle", where),
             std::string("no upload id or bundle bytes of a sent bundle (") + where + ")");
    const size_t want_opens = spec_.expect_opens.value_or(1);
    expect(old_opens == 0 && current_opens == want_opens,
           "exactly " + std::to_string(want_opens) +
               " keyslot(s) open, all with the current passphrase (found " +
               std::to_string(current_opens) + " with the current, " + std::to_string(old_opens) +
               " with an old passphrase)");
    size_t live = 0;
    for (const auto& r : spec_.records) live += r.live;
    const size_t want_keys = spec_.expect_record_keys.value_or(live);
    expect(record_keys_.size() == want_keys && finalized_keys == 0,
           "exactly " + std::to_string(want_keys) +
               " key(s) recovered, none of a finalized record or sent bundle (found " +
               std::to_string(record_keys_.size()) + ", " + std::to_string(finalized_keys) +
               " opening a finalized record's blobs or cells or a sent bundle's cells)");
    expect(!in("record-key", "raw") && !in("record-key", "page"),
           "no keyring key in clear on the disk or in a decrypted page");
  } else {
    for (const auto& cat : expect_found) {
      bool ok = false;
      if (cat == "old-keyslot")
        ok = old_opens > 0;
      else if (cat == "finalized-key")
        ok = finalized_keys > 0;
      else if (cat.rfind("finalized-", 0) == 0)
        ok = in("finalized-canary", cat.substr(10));
      else if (cat.rfind("bundle-", 0) == 0)
        ok = in("bundle", cat.substr(7));
      else if (cat.rfind("upload-", 0) == 0)
        ok = in("upload", cat.substr(7));
      expect(ok, "control: found " + cat);
    }
  }
  std::cout << "\nresult: " << (all_ok ? "PASS" : "FAIL") << "\n";
  return all_ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::set<std::string> expect_found;
  std::vector<std::string> args;
  static const std::set<std::string> kCategories = {
      "old-keyslot",    "finalized-key", "finalized-raw", "finalized-page", "finalized-blob",
      "finalized-cell", "bundle-raw",    "bundle-page",   "bundle-blob",    "bundle-cell",
      "upload-raw",     "upload-page",   "upload-blob",   "upload-cell"};
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--expect-found" && i + 1 < argc) {
      std::stringstream list(argv[++i]);
      for (std::string c; std::getline(list, c, ',');) {
        if (!kCategories.count(c)) {
          std::cerr << "forensic_scan: unknown category '" << c << "'\n";
          return 2;
        }
        expect_found.insert(c);
      }
    } else {
      args.push_back(a);
    }
  }
  if (args.size() != 2) {
    std::cerr << "usage: forensic_scan [--expect-found CATEGORY,...] SPEC IMAGE\n";
    return 2;
  }
  if (sodium_init() < 0) return 2;
  try {
    const Spec spec = read_spec(args[0]);
    const Image image(args[1]);
    Scanner scanner(spec, image);
    scanner.run();
    return scanner.report(expect_found) ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "forensic_scan: " << e.what() << "\n";
    return 2;
  }
}
