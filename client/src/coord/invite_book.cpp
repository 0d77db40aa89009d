#include "satchel/coord/invite_book.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "satchel/client/trust_store.h"

namespace satchel::coord {

namespace {

using client::Transaction;

// An invite base's body is at most 64 KiB: its base64url text stays well below this.
constexpr size_t kMaxBaseFile = 128 * 1024;

bool is_space(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// The file's bytes without surrounding white space, in secret memory.
Result<SecretBytes> read_base_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(errno == ENOENT ? Errc::kNotFound : Errc::kIoError,
                      "cannot open " + path + ": " + std::strerror(errno));
  SecretBytes buf(kMaxBaseFile + 1);
  size_t len = 0;
  while (len < buf.size()) {
    const ssize_t r = ::read(fd, buf.data() + len, buf.size() - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int saved = errno;
      ::close(fd);
      return make_error(Errc::kIoError, "cannot read " + path + ": " + std::strerror(saved));
    }
    if (r == 0) break;
    len += static_cast<size_t>(r);
  }
  ::close(fd);
  if (len > kMaxBaseFile)
    return make_error(Errc::kDocMalformed, path + " is larger than an invite base can be (" +
                                               std::to_string(kMaxBaseFile) + " bytes)");
  size_t a = 0, b = len;
  while (a < b && is_space(buf.data()[a])) a++;
  while (b > a && is_space(buf.data()[b - 1])) b--;
  SecretBytes text(b - a);
  if (b > a) std::memcpy(text.data(), buf.data() + a, b - a);
  return text;
}

Result<OrgPublicKey> trusted_org(client::Profile& p) {
  auto org = client::TrustStore(p).organisation();
  if (!org) return org.error();
  if (!*org)
    return make_error(Errc::kNotFound,
                      "no organisation is trusted yet: trust its key first (satchel coord trust "
                      "org PUBKEY)");
  return **org;
}

// The base text held, in secret memory; nullopt when none.
Result<std::optional<SecretBytes>> held_text(client::Profile& p) {
  auto st = p.db().prepare("SELECT value FROM settings WHERE name = ?1");
  if (!st) return st.error();
  st->bind(1, std::string_view(kInviteBaseSetting));
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<SecretBytes>();
  const ByteView v = st->blob(0);
  SecretBytes out(v.size());
  if (!v.empty()) std::memcpy(out.data(), v.data(), v.size());
  return std::optional<SecretBytes>(std::move(out));
}

// "2026-05-01 12:00 UTC", or the number when the C library cannot represent it.
std::string time_text(int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  char buf[32];
  if (!::gmtime_r(&t, &tm) || std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm) == 0)
    return "Unix time " + std::to_string(unix_seconds);
  return buf;
}

Result<MintedInviteEntry> entry_of(const client::Statement& st) {
  const ByteView id = st.blob(0), token = st.blob(1);
  if (id.size() != 16 || token.size() != 8)
    return make_error(Errc::kIoError, "a minted invite row is damaged");
  MintedInviteEntry e;
  std::memcpy(e.invite_id.data(), id.data(), 16);
  std::memcpy(e.token_id.data(), token.data(), 8);
  e.minted_day = st.int64(2);
  e.relay_index = static_cast<uint8_t>(st.int64(3));
  return e;
}

}  // namespace

Result<InviteBaseImport> store_invite_base(client::Profile& p, ByteView text, int64_t now) {
  SATCHEL_TRY(p.require_kind(client::ProfileKind::kCoordinator));
  auto org = trusted_org(p);
  if (!org) return org.error();
  auto incoming = SignedInviteBase::verify(text, *org, now);
  if (!incoming) return incoming.error();
  auto tx = Transaction::begin(p.db());
  if (!tx) return tx.error();
  InviteBaseImport out;
  out.base = std::move(incoming.value());
  auto held = held_text(p);
  if (!held) return held.error();
  if (*held) {
    // Expired or not, the base held counts: an older one never comes back.
    auto h = SignedInviteBase::verify((*held)->span(), *org, INT64_MIN);
    if (!h)
      return make_error(h.error().code,
                        "the invite base held is damaged (" + h.error().message + ")");
    const int64_t held_at = h->base().issued_at, new_at = out.base.base().issued_at;
    if (h->wire().equals(out.base.wire().span())) {
      out.already_held = true;
      return out;
    }
    if (new_at < held_at)
      return make_error(Errc::kDocRollback, "this invite base was issued at " + time_text(new_at) +
                                                ", before the one held (" + time_text(held_at) +
                                                "): only a newer base replaces it");
    if (new_at == held_at)
      return make_error(Errc::kDocRollback,
                        "another invite base issued at the same time is held: only a newer base "
                        "replaces it");
    out.replaced = true;
  }
  {
    // The text as bytes, never through a std::string.
    auto st = p.db().prepare("INSERT OR REPLACE INTO settings (name, value) VALUES (?1, ?2)");
    if (!st) return st.error();
    st->bind(1, std::string_view(kInviteBaseSetting)).bind_blob(2, text);
    SATCHEL_TRY(st->run());
  }
  // Its roster's coordinators may mint the invites whose hellos come back.
  SATCHEL_TRY(client::TrustStore(p).remember_coordinators(out.base.roster()));
  SATCHEL_TRY(tx->commit());
  return out;
}

Result<InviteBaseImport> import_invite_base_file(client::Profile& p, const std::string& path,
                                                 int64_t now) {
  auto text = read_base_file(path);
  if (!text) return text.error();
  auto stored = store_invite_base(p, text->span(), now);
  if (!stored) return stored.error();
  // The base now lives only inside the encrypted profile.
  if (Status s = client::shred_file(path); !s) stored->not_shredded = s.error();
  return stored;
}

Result<std::optional<SignedInviteBase>> current_invite_base(client::Profile& p, int64_t now) {
  SATCHEL_TRY(p.require_kind(client::ProfileKind::kCoordinator));
  auto held = held_text(p);
  if (!held) return held.error();
  if (!*held) return std::optional<SignedInviteBase>();
  auto org = trusted_org(p);
  if (!org) return org.error();
  auto base = SignedInviteBase::verify((*held)->span(), *org, now);
  if (!base) {
    if (base.code() == Errc::kDocExpired)
      return make_error(Errc::kDocExpired,
                        "the invite base held has expired (" + base.error().message +
                            "): import a newer one (satchel coord invite-base import FILE)");
    return base.error();
  }
  return std::optional<SignedInviteBase>(std::move(base.value()));
}

Status record_minted_invite(client::Profile& p, const MintedInviteEntry& e) {
  SATCHEL_TRY(p.require_kind(client::ProfileKind::kCoordinator));
  auto st = p.db().prepare(
      "INSERT INTO coord_minted_invites (invite_id, token_id, minted_day, relay_index) "
      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (invite_id) DO NOTHING");
  if (!st) return st.error();
  st->bind_blob(1, ByteView(e.invite_id.data(), e.invite_id.size()))
      .bind_blob(2, ByteView(e.token_id.data(), e.token_id.size()))
      .bind(3, e.minted_day)
      .bind(4, int64_t{e.relay_index});
  SATCHEL_TRY(st->run());
  if (p.db().changes() == 0)
    return make_error(Errc::kAlreadyExists,
                      "invite " + to_hex(ByteView(e.invite_id.data(), e.invite_id.size())) +
                          " is recorded already");
  return Status::Ok();
}

Result<std::vector<MintedInviteEntry>> minted_invites(client::Profile& p) {
  auto st = p.db().prepare(
      "SELECT invite_id, token_id, minted_day, relay_index FROM coord_minted_invites "
      "ORDER BY minted_day, invite_id");
  if (!st) return st.error();
  std::vector<MintedInviteEntry> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    auto e = entry_of(*st);
    if (!e) return e.error();
    out.push_back(*e);
  }
  return out;
}

}  // namespace satchel::coord
