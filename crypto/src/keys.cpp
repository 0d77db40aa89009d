#include "satchel/crypto/keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace satchel {
namespace {

constexpr size_t kChecksumLen = 5;

struct KindInfo {
  KeyKind kind;
  std::string_view prefix;
  size_t payload_len;
  const char* name;
};

constexpr KindInfo kKinds[] = {
    {KeyKind::kOrgPublic, "orgpub-", 32, "organisation public key"},
    {KeyKind::kOrgSecret, "orgsec-", 32, "organisation secret key"},
    {KeyKind::kCoordinatorPublic, "coordpub-", 64, "coordinator public key"},
    {KeyKind::kCoordinatorSecret, "coordsec-", 64, "coordinator secret key"},
    {KeyKind::kDevicePublic, "devpub-", 32, "device public key"},
    {KeyKind::kDeviceSecret, "devsec-", 32, "device secret key"},
    {KeyKind::kBackupPublic, "backuppub-", 32, "backup public key"},
    {KeyKind::kBackupSecret, "backupsec-", 32, "backup secret key"},
};

const KindInfo& info(KeyKind kind) {
  for (const auto& k : kKinds)
    if (k.kind == kind) return k;
  std::abort();  // unreachable: every enumerator is listed
}

void checksum(const KindInfo& k, ByteView payload, uint8_t out[kChecksumLen]) {
  uint8_t h[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof h);
  const std::string_view domain = "satchel key text v1";
  crypto_generichash_update(&st, as_bytes(domain).data(), domain.size());
  crypto_generichash_update(&st, as_bytes(k.prefix).data(), k.prefix.size());
  crypto_generichash_update(&st, payload.data(), payload.size());
  crypto_generichash_final(&st, h, sizeof h);
  std::memcpy(out, h, kChecksumLen);
}

// "a device public key (devpub-)" / "an organisation public key (orgpub-)".
std::string a_kind(KeyKind kind) {
  std::string d = key_kind_description(kind);
  return (d[0] == 'o' ? "an " : "a ") + d;
}

// Encodes prefix + base32(payload || checksum) into secret memory (used for both public and
// secret kinds; public callers copy it out).
SecretBytes encode(KeyKind kind, ByteView payload) {
  const KindInfo& k = info(kind);
  SecretBytes raw(payload.size() + kChecksumLen);
  std::memcpy(raw.data(), payload.data(), payload.size());
  checksum(k, payload, raw.data() + payload.size());
  SecretBytes b32 = to_base32_secret(raw.span());
  SecretBytes out(k.prefix.size() + b32.size());
  std::memcpy(out.data(), k.prefix.data(), k.prefix.size());
  std::memcpy(out.data() + k.prefix.size(), b32.data(), b32.size());
  return out;
}

std::string encode_public(KeyKind kind, ByteView payload) {
  SecretBytes s = encode(kind, payload);
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

// Decodes a key string of the expected kind into secret memory. Never echoes the input.
Result<SecretBytes> decode(KeyKind expected, std::string_view text) {
  const KindInfo& want = info(expected);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    return make_error(Errc::kKeyMalformed, "not a key string: expected " + a_kind(expected));
  }
  std::string_view prefix = text.substr(0, dash + 1);
  const KindInfo* got = nullptr;
  for (const auto& k : kKinds)
    if (k.prefix == prefix) got = &k;
  if (got == nullptr) {
    return make_error(Errc::kKeyMalformed, "unknown key prefix: expected " + a_kind(expected));
  }
  if (got->kind != expected) {
    return make_error(Errc::kKeyWrongKind,
                      "this is " + a_kind(got->kind) + ", expected " + a_kind(expected));
  }
  std::string_view body = text.substr(dash + 1);
  size_t raw_len = want.payload_len + kChecksumLen;
  if (body.size() != (raw_len * 8 + 4) / 5) {
    return make_error(Errc::kKeyMalformed,
                      "wrong length for " + a_kind(expected) + " (a character missing or added?)");
  }
  auto raw = from_base32_secret(body);
  if (!raw) {
    return make_error(
        Errc::kKeyMalformed,
        "invalid character in " + key_kind_description(expected) + " (only a-z and 2-7 are used)");
  }
  uint8_t sum[kChecksumLen];
  checksum(want, ByteView(raw->data(), want.payload_len), sum);
  if (sodium_memcmp(sum, raw->data() + want.payload_len, kChecksumLen) != 0) {
    return make_error(Errc::kKeyBadChecksum, "checksum mismatch in " +
                                                 key_kind_description(expected) +
                                                 ": the key has a typo or is damaged");
  }
  SecretBytes payload(want.payload_len);
  std::memcpy(payload.data(), raw->data(), want.payload_len);
  return payload;
}

template <size_t N>
void copy_to(std::array<uint8_t, N>& dst, const uint8_t* src) {
  std::memcpy(dst.data(), src, N);
}

bool valid_ed25519_public(const Key32& k) {
  return crypto_core_ed25519_is_valid_point(k.data());
}

Error invalid_point(KeyKind kind) {
  return make_error(Errc::kKeyInvalid, key_kind_description(kind) + " is not a valid curve point");
}

Error noncanonical(KeyKind kind, const char* why) {
  return make_error(Errc::kKeyInvalid,
                    key_kind_description(kind) + " is not a canonical X25519 encoding: " + why);
}

// X25519 of a small-order point is all zero for every scalar; libsodium then fails. One DH with
// a fixed scalar therefore tells whether a public key can ever be used.
bool x25519_unusable(const Key32& k) {
  static const uint8_t kScalar[32] = {9,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                      11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                      22, 23, 24, 25, 26, 27, 28, 29, 30, 64};
  uint8_t out[32];
  return crypto_scalarmult(out, kScalar, k.data()) != 0;
}

}  // namespace

bool x25519_public_usable(const Key32& k) {
  return !x25519_unusable(k);
}

const char* x25519_noncanonical_reason(const Key32& k) {
  if (k[31] & 0x80) return "bit 255 is set";
  // With bit 255 clear, u >= p = 2^255 - 19 means 0x7f, thirty 0xff bytes, a low byte >= 0xed.
  const bool top_all_ones = k[31] == 0x7f && std::all_of(k.begin() + 1, k.begin() + 31,
                                                         [](uint8_t b) { return b == 0xff; });
  if (top_all_ones && k[0] >= 0xed) return "its value is 2^255 - 19 or more";
  return nullptr;
}

std::string key_kind_description(KeyKind kind) {
  const KindInfo& k = info(kind);
  return std::string(k.name) + " (" + std::string(k.prefix) + ")";
}

std::string fingerprint(KeyKind kind, ByteView payload) {
  crypto_init();
  uint8_t h[40];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof h);
  const std::string_view domain = "satchel fingerprint v1";
  crypto_generichash_update(&st, as_bytes(domain).data(), domain.size());
  uint8_t k = static_cast<uint8_t>(kind);
  crypto_generichash_update(&st, &k, 1);
  crypto_generichash_update(&st, payload.data(), payload.size());
  crypto_generichash_final(&st, h, sizeof h);
  std::string out;
  for (int g = 0; g < 8; g++) {
    uint64_t v = 0;
    for (int i = 0; i < 5; i++) v = (v << 8) | h[g * 5 + i];
    char buf[8];
    std::snprintf(buf, sizeof buf, "%05u", static_cast<unsigned>(v % 100000));
    if (g > 0) out += ' ';
    out += buf;
  }
  return out;
}

// --- public keys ---

std::string OrgPublicKey::to_text() const {
  return encode_public(KeyKind::kOrgPublic, ed25519);
}
std::string OrgPublicKey::fingerprint() const {
  return satchel::fingerprint(KeyKind::kOrgPublic, ed25519);
}
Result<OrgPublicKey> OrgPublicKey::from_text(std::string_view text) {
  auto p = decode(KeyKind::kOrgPublic, text);
  if (!p) return p.error();
  OrgPublicKey k;
  copy_to(k.ed25519, p->data());
  if (!valid_ed25519_public(k.ed25519)) return invalid_point(KeyKind::kOrgPublic);
  return k;
}

std::string CoordinatorPublicKey::to_text() const {
  uint8_t buf[64];
  std::memcpy(buf, x25519.data(), 32);
  std::memcpy(buf + 32, ed25519.data(), 32);
  return encode_public(KeyKind::kCoordinatorPublic, buf);
}
std::string CoordinatorPublicKey::fingerprint() const {
  uint8_t buf[64];
  std::memcpy(buf, x25519.data(), 32);
  std::memcpy(buf + 32, ed25519.data(), 32);
  return satchel::fingerprint(KeyKind::kCoordinatorPublic, buf);
}
Result<CoordinatorPublicKey> CoordinatorPublicKey::from_text(std::string_view text) {
  auto p = decode(KeyKind::kCoordinatorPublic, text);
  if (!p) return p.error();
  CoordinatorPublicKey k;
  copy_to(k.x25519, p->data());
  copy_to(k.ed25519, p->data() + 32);
  if (const char* why = x25519_noncanonical_reason(k.x25519))
    return noncanonical(KeyKind::kCoordinatorPublic, why);
  if (x25519_unusable(k.x25519) || !valid_ed25519_public(k.ed25519))
    return invalid_point(KeyKind::kCoordinatorPublic);
  return k;
}

std::string DevicePublicKey::to_text() const {
  return encode_public(KeyKind::kDevicePublic, x25519);
}
std::string DevicePublicKey::fingerprint() const {
  return satchel::fingerprint(KeyKind::kDevicePublic, x25519);
}
Result<DevicePublicKey> DevicePublicKey::from_text(std::string_view text) {
  auto p = decode(KeyKind::kDevicePublic, text);
  if (!p) return p.error();
  DevicePublicKey k;
  copy_to(k.x25519, p->data());
  if (const char* why = x25519_noncanonical_reason(k.x25519))
    return noncanonical(KeyKind::kDevicePublic, why);
  if (x25519_unusable(k.x25519)) return invalid_point(KeyKind::kDevicePublic);
  return k;
}

std::string BackupPublicKey::to_text() const {
  return encode_public(KeyKind::kBackupPublic, x25519);
}
std::string BackupPublicKey::fingerprint() const {
  return satchel::fingerprint(KeyKind::kBackupPublic, x25519);
}
Result<BackupPublicKey> BackupPublicKey::from_text(std::string_view text) {
  auto p = decode(KeyKind::kBackupPublic, text);
  if (!p) return p.error();
  BackupPublicKey k;
  copy_to(k.x25519, p->data());
  if (const char* why = x25519_noncanonical_reason(k.x25519))
    return noncanonical(KeyKind::kBackupPublic, why);
  if (x25519_unusable(k.x25519)) return invalid_point(KeyKind::kBackupPublic);
  return k;
}

// --- secret keys ---

namespace {

std::string_view as_text(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

void ed25519_from_seed(const SecretBytes& seed, SecretBytes& sk, Key32& pk) {
  sk = SecretBytes(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
}

void x25519_public(const SecretBytes& sk, Key32& pk) {
  crypto_scalarmult_base(pk.data(), sk.data());
}

}  // namespace

OrgSecretKey OrgSecretKey::generate() {
  crypto_init();
  OrgSecretKey k;
  k.seed_ = SecretBytes(crypto_sign_SEEDBYTES);
  randombytes_buf(k.seed_.data(), k.seed_.size());
  ed25519_from_seed(k.seed_, k.sk_, k.pub_.ed25519);
  return k;
}

Result<OrgSecretKey> OrgSecretKey::from_text(ByteView text) {
  auto p = decode(KeyKind::kOrgSecret, as_text(text));
  if (!p) return p.error();
  OrgSecretKey k;
  k.seed_ = std::move(p.value());
  ed25519_from_seed(k.seed_, k.sk_, k.pub_.ed25519);
  return k;
}

SecretBytes OrgSecretKey::to_text() const {
  return encode(KeyKind::kOrgSecret, seed_.span());
}

CoordinatorSecretKey CoordinatorSecretKey::generate() {
  crypto_init();
  CoordinatorSecretKey k;
  k.x_sk_ = SecretBytes(crypto_scalarmult_SCALARBYTES);
  randombytes_buf(k.x_sk_.data(), k.x_sk_.size());
  x25519_public(k.x_sk_, k.pub_.x25519);
  k.ed_seed_ = SecretBytes(crypto_sign_SEEDBYTES);
  randombytes_buf(k.ed_seed_.data(), k.ed_seed_.size());
  ed25519_from_seed(k.ed_seed_, k.ed_sk_, k.pub_.ed25519);
  return k;
}

Result<CoordinatorSecretKey> CoordinatorSecretKey::from_text(ByteView text) {
  auto p = decode(KeyKind::kCoordinatorSecret, as_text(text));
  if (!p) return p.error();
  CoordinatorSecretKey k;
  k.x_sk_ = SecretBytes(32);
  std::memcpy(k.x_sk_.data(), p->data(), 32);
  k.ed_seed_ = SecretBytes(32);
  std::memcpy(k.ed_seed_.data(), p->data() + 32, 32);
  x25519_public(k.x_sk_, k.pub_.x25519);
  ed25519_from_seed(k.ed_seed_, k.ed_sk_, k.pub_.ed25519);
  return k;
}

DeviceSecretKey CoordinatorSecretKey::bundle_sender() const {
  DeviceSecretKey d;
  d.x_sk_ = x_sk_.clone();
  d.pub_.x25519 = pub_.x25519;
  return d;
}

SecretBytes CoordinatorSecretKey::to_text() const {
  SecretBytes raw(64);
  std::memcpy(raw.data(), x_sk_.data(), 32);
  std::memcpy(raw.data() + 32, ed_seed_.data(), 32);
  return encode(KeyKind::kCoordinatorSecret, raw.span());
}

DeviceSecretKey DeviceSecretKey::generate() {
  crypto_init();
  DeviceSecretKey k;
  k.x_sk_ = SecretBytes(crypto_scalarmult_SCALARBYTES);
  randombytes_buf(k.x_sk_.data(), k.x_sk_.size());
  x25519_public(k.x_sk_, k.pub_.x25519);
  return k;
}

Result<DeviceSecretKey> DeviceSecretKey::from_text(ByteView text) {
  auto p = decode(KeyKind::kDeviceSecret, as_text(text));
  if (!p) return p.error();
  DeviceSecretKey k;
  k.x_sk_ = std::move(p.value());
  x25519_public(k.x_sk_, k.pub_.x25519);
  return k;
}

SecretBytes DeviceSecretKey::to_text() const {
  return encode(KeyKind::kDeviceSecret, x_sk_.span());
}

BackupSecretKey BackupSecretKey::generate() {
  crypto_init();
  BackupSecretKey k;
  k.x_sk_ = SecretBytes(crypto_scalarmult_SCALARBYTES);
  randombytes_buf(k.x_sk_.data(), k.x_sk_.size());
  x25519_public(k.x_sk_, k.pub_.x25519);
  return k;
}

Result<BackupSecretKey> BackupSecretKey::from_text(ByteView text) {
  auto p = decode(KeyKind::kBackupSecret, as_text(text));
  if (!p) return p.error();
  BackupSecretKey k;
  k.x_sk_ = std::move(p.value());
  x25519_public(k.x_sk_, k.pub_.x25519);
  return k;
}

SecretBytes BackupSecretKey::to_text() const {
  return encode(KeyKind::kBackupSecret, x_sk_.span());
}

// --- key files ---

Status write_secret_key_file(const std::string& path, const SecretBytes& secret_text,
                             std::string_view public_text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST)
    return make_error(Errc::kAlreadyExists,
                      "key file " + path + " already exists (not overwritten)");
  if (fd < 0)
    return make_error(Errc::kIoError,
                      "cannot create key file " + path + ": " + std::strerror(errno));
  std::string header = "# public key: " + std::string(public_text) + "\n";
  auto write_all = [fd](const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      ssize_t w = ::write(fd, c, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      c += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  };
  bool ok = write_all(header.data(), header.size()) &&
            write_all(secret_text.data(), secret_text.size()) && write_all("\n", 1) &&
            ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return make_error(Errc::kIoError,
                      "cannot write key file " + path + ": " + std::strerror(saved));
  }
  return Status::Ok();
}

Result<SecretBytes> read_secret_key_file(const std::string& path) {
  constexpr size_t kMax = 4096;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(errno == ENOENT ? Errc::kNotFound : Errc::kIoError,
                      "cannot open key file " + path + ": " + std::strerror(errno));
  }
  SecretBytes buf(kMax);
  size_t len = 0;
  while (len < kMax) {
    ssize_t r = ::read(fd, buf.data() + len, kMax - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int saved = errno;
      ::close(fd);
      return make_error(Errc::kIoError,
                        "cannot read key file " + path + ": " + std::strerror(saved));
    }
    if (r == 0) break;
    len += static_cast<size_t>(r);
  }
  ::close(fd);
  if (len == kMax) return make_error(Errc::kKeyMalformed, "key file " + path + " is too large");
  // The key is the first line that is neither empty nor a comment.
  size_t pos = 0;
  while (pos < len) {
    size_t end = pos;
    while (end < len && buf.data()[end] != '\n') end++;
    size_t a = pos, b = end;
    while (a < b && (buf.data()[a] == ' ' || buf.data()[a] == '\t')) a++;
    while (b > a && (buf.data()[b - 1] == '\r' || buf.data()[b - 1] == ' ')) b--;
    if (b > a && buf.data()[a] != '#') {
      SecretBytes line(b - a);
      std::memcpy(line.data(), buf.data() + a, b - a);
      return line;
    }
    pos = end + 1;
  }
  return make_error(Errc::kKeyMalformed, "key file " + path + " holds no key");
}

}  // namespace satchel
