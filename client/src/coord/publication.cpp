#include "satchel/coord/publication.h"

#include <algorithm>
#include <climits>
#include <filesystem>
#include <fstream>
#include <optional>

#include "satchel/client/trust_store.h"
#include "satchel/coord/coordinator_link.h"
#include "satchel/coord/invite_book.h"
#include "satchel/crypto/published_document.h"
#include "satchel/crypto/trust_documents.h"

namespace satchel::coord {
namespace {

namespace fs = std::filesystem;

// A signed form package is at most 4 MiB of content plus its envelope, in base64url.
constexpr uintmax_t kMaxDocumentText = 6u << 20;

Result<std::string> read_document(const fs::path& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) return make_error(Errc::kIoError, path.string() + ": " + ec.message());
  if (size > kMaxDocumentText)
    return make_error(Errc::kInvalidArgument, path.string() + ": larger than any signed document");
  std::ifstream in(path, std::ios::binary);
  std::string text(static_cast<size_t>(size), '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(size)))
    return make_error(Errc::kIoError, path.string() + ": cannot be read");
  // Published as the bare document text: without the line break a file ends with.
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  return text;
}

// "000012.form" -> 12; nullopt for any other name.
std::optional<uint64_t> form_number(const std::string& name) {
  const std::string suffix = ".form";
  if (name.size() <= suffix.size() || name.size() > 20 + suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  const std::string digits = name.substr(0, name.size() - suffix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  uint64_t n = 0;
  for (char c : digits) {
    if (n > (UINT64_MAX - 9) / 10) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n == 0) return std::nullopt;
  return n;
}

struct Document {
  PublishedKind kind;
  uint64_t number = 0;
  std::string text;
};

}  // namespace

Result<PublishSummary> publish_directory(client::Profile& profile, const PublishRequest& r) {
  SATCHEL_TRY(profile.require_kind(client::ProfileKind::kCoordinator));
  auto trusted = client::TrustStore(profile).organisation();
  if (!trusted) return trusted.error();
  if (!*trusted)
    return make_error(Errc::kNotFound,
                      "no organisation trusted: `satchel coord trust org` with its key first");
  const OrgPublicKey& org = **trusted;
  // The base's publication key, even once the base has expired: publishing (an emergency
  // registration that removes a coordinator, above all) must not wait for a new base.
  auto base = current_invite_base(profile, INT64_MIN);
  if (!base) return base.error();
  if (!*base)
    return make_error(Errc::kNotFound,
                      "no invite base, so no publication key: import the organisation's with "
                      "`satchel coord invite-base import FILE`");

  // Everything is read and verified first: nothing reaches the relay unless all of it verifies.
  std::vector<Document> docs;
  PublishSummary summary;
  const fs::path dir(r.dir);
  auto roster_text = read_document(dir / "roster.txt");
  if (!roster_text) return roster_text.error();
  auto roster = Roster::verify(*roster_text, org, r.now);
  if (!roster) return Error{roster.code(), "roster.txt: " + roster.error().message};
  summary.roster_version = roster->version;
  docs.push_back({PublishedKind::kRoster, roster->version, std::move(*roster_text)});

  std::optional<std::string> registration;
  std::optional<uint64_t> registration_version;
  bool registration_keeps_me = false;
  if (fs::exists(dir / "registration.txt")) {
    auto text = read_document(dir / "registration.txt");
    if (!text) return text.error();
    auto reg = RelayRegistration::verify(*text, org);
    if (!reg) return Error{reg.code(), "registration.txt: " + reg.error().message};
    registration_version = reg->version;
    registration = std::move(*text);
    auto me = profile.coordinator_key();
    if (!me) return me.error();
    const Key32 my_key = me->public_key().ed25519;
    registration_keeps_me =
        std::find(reg->coordinator_auth_keys.begin(), reg->coordinator_auth_keys.end(), my_key) !=
        reg->coordinator_auth_keys.end();
  }

  std::error_code ec;
  const fs::path forms = dir / "forms";
  if (fs::exists(forms, ec)) {
    for (const auto& entry : fs::directory_iterator(forms, ec)) {
      const std::string name = entry.path().filename().string();
      auto n = form_number(name);
      if (!n || !entry.is_regular_file())
        return make_error(Errc::kInvalidArgument,
                          "forms/" + name +
                              ": not a form package named by its publication number "
                              "(NNNNNN.form, as `satchel org publish` writes them)");
      auto text = read_document(entry.path());
      if (!text) return text.error();
      auto pkg = FormEnvelope::verify_package(*text, org);
      if (!pkg) return Error{pkg.code(), "forms/" + name + ": " + pkg.error().message};
      docs.push_back({PublishedKind::kForm, *n, std::move(*text)});
      summary.form_numbers.push_back(*n);
    }
    if (ec) return make_error(Errc::kIoError, forms.string() + ": " + ec.message());
  }
  std::sort(summary.form_numbers.begin(), summary.form_numbers.end());

  // The folder's roster, newer than the one held, becomes this coordinator's own: its pins are
  // the ones to connect with (after a relay key rotation, or when the held roster has expired).
  {
    client::TrustStore trust(profile);
    auto held = trust.roster(INT64_MIN);
    if (!held) return held.error();
    if (!*held || (*held)->version < roster->version) {
      auto added = trust.add_roster(docs.front().text, r.now);
      if (!added) return Error{added.code(), "roster.txt: " + added.error().message};
      summary.roster_taken = true;
    }
  }
  auto link = open_coordinator_link(profile, r.relay_index, r.relay, r.now);
  if (!link) return link.error();
  const SecretBytes& key = (*base)->base().publication_key;
  auto register_now = [&]() -> Status {
    auto held = link->relay->update_registration(link->session, *registration);
    if (held) {
      summary.registration_version = *held;
      summary.registration_updated = true;
    } else if (held.code() == Errc::kDocRollback) {
      summary.registration_version = *registration_version;  // held already, or a newer one
    } else {
      return Error{held.code(), "registration.txt: " + held.error().message};
    }
    return Status::Ok();
  };
  // The registration first, so that a coordinator it removes loses relay access before the
  // documents that announce the change are out; last only when it removes this coordinator,
  // whose session it ends.
  if (registration && registration_keeps_me) SATCHEL_TRY(register_now());
  for (const Document& d : docs) {
    auto sealed = seal_published_document(key, d.kind, d.number, as_bytes(d.text));
    if (!sealed) return sealed.error();
    SATCHEL_TRY(link->relay->publish_document(
        link->session, published_document_name(key, d.kind, d.number), *sealed));
  }
  if (registration && !registration_keeps_me) SATCHEL_TRY(register_now());
  return summary;
}

}  // namespace satchel::coord
