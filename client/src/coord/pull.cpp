#include "satchel/coord/pull.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "satchel/client/trust_store.h"
#include "satchel/coord/importer.h"
#include "satchel/crypto/encoding.h"
#include "satchel/crypto/sha256.h"

namespace satchel::coord {

namespace {

// A downloaded bundle in a private, unnamed file of the profile's directory (O_TMPFILE: it
// never has a name, and disappears with the process), written in order and read at random.
class DownloadFile final : public ByteSink, public RandomAccessSource {
 public:
  static Result<DownloadFile> create(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
      return make_error(Errc::kIoError, "cannot make a private download file in " + dir + ": " +
                                            std::strerror(errno));
    return DownloadFile(fd);
  }
  DownloadFile(DownloadFile&& o) noexcept : fd_(std::exchange(o.fd_, -1)), size_(o.size_) {}
  DownloadFile& operator=(DownloadFile&&) = delete;
  ~DownloadFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status write(ByteView data) override {
    while (!data.empty()) {
      ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(size_));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return make_error(Errc::kIoError,
                          std::string("cannot write a download: ") +
                              (errno == ENOSPC ? "disk full" : std::strerror(errno)));
      size_ += static_cast<uint64_t>(n);
      data = data.subspan(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  uint64_t size() const override { return size_; }
  Status read_at(uint64_t offset, std::span<uint8_t> out) override {
    while (!out.empty()) {
      ssize_t n = ::pread(fd_, out.data(), out.size(), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return make_error(Errc::kIoError, "cannot read a download back");
      offset += static_cast<uint64_t>(n);
      out = out.subspan(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  // SHA-256 of everything written: the upload id the relay names it by.
  Result<Hash32> hash() {
    Sha256 h;
    Bytes buf(1 << 16);
    for (uint64_t at = 0; at < size_;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - at));
      SATCHEL_TRY(read_at(at, std::span<uint8_t>(buf.data(), n)));
      h.update(ByteView(buf.data(), n));
      at += n;
    }
    return h.finish();
  }

 private:
  explicit DownloadFile(int fd) : fd_(fd) {}
  int fd_ = -1;
  uint64_t size_ = 0;
};

// The reason a bundle with this upload id is kept in quarantine (it did not open here), or
// nullopt if it is not.
Result<std::optional<std::string>> quarantine_reason(client::Profile& p,
                                                     const std::string& upload_id) {
  auto bytes = from_hex(upload_id);
  if (!bytes) return make_error(Errc::kInvalidArgument, "bad upload id");
  auto st = p.db().prepare("SELECT reason FROM coord_quarantine WHERE upload_id = ?1");
  if (!st) return st.error();
  st->bind_blob(1, *bytes);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->text(0));
}

// A bundle kept because no slot of it opens for this coordinator (sealed for an older roster):
// "not mine" to the relay, rather than held.
bool kept_as_not_mine(const std::string& reason) {
  return reason.find(std::string("[") + errc_name(Errc::kBundleNoSlotOpens) + "]") !=
         std::string::npos;
}

// Bundles up to this size are fetched in batches (kMaxFetchBytes at most together, held in
// memory one at a time); larger ones are downloaded alone into a private file, resumable.
constexpr uint64_t kBatchedBundleMax = 1u << 20;
constexpr uint64_t kBatchBytes = 8u << 20;

}  // namespace

Result<PullSummary> pull(client::Profile& profile, const PullOptions& o) {
  SATCHEL_TRY(profile.require_kind(client::ProfileKind::kCoordinator));
  auto importer = Importer::open(profile);
  if (!importer) return importer.error();
  auto waited = import_all_waiting_records(profile);
  if (!waited) return waited.error();
  auto key = profile.coordinator_key();
  if (!key) return key.error();
  auto roster = client::TrustStore(profile).roster(o.now);
  if (!roster) return roster.error();
  if (!*roster)
    return make_error(Errc::kNotFound, "no roster: add one with `satchel coord roster add`");
  if (o.relay_index >= (*roster)->relays.size())
    return make_error(Errc::kInvalidArgument,
                      "the roster names " + std::to_string((*roster)->relays.size()) +
                          " relay(s); there is no relay " + std::to_string(o.relay_index));
  const RosterRelay& relay = (*roster)->relays[o.relay_index];
  auto url = client::parse_relay_url(relay.url);
  if (!url) return url.error();
  auto client = client::RelayClient::create(*url, {relay.spki_pin, relay.backup_pin}, o.relay);
  if (!client) return client.error();
  const OrgId org = (*roster)->org_id();
  const std::string mailbox = to_hex(ByteView(org.data(), org.size()));
  auto wait = [&](int64_t seconds) {
    if (o.sleep)
      o.sleep(seconds);
    else
      std::this_thread::sleep_for(std::chrono::seconds(seconds));
  };

  auto session = (*client)->open_session(*key, mailbox, o.now);
  if (!session) return session.error();
  // Runs a request, opening a new session once if the old one expired (sessions last 900 s)
  // and waiting as long as the relay asks when it is busy (bounded tries).
  // Runs a request: opens a new session (once) if the old one expired (sessions last 900 s),
  // waits as long as the relay asks when it is busy (5 times at most), and repeats it after a
  // network failure: at once when the failed attempt made progress (`progress()`, bytes or
  // bundles received, grew), otherwise after 1, 2, 4… s, giving up after o.download_attempts
  // failures in a row without progress. Every request repeated is idempotent or resumes where
  // the last one stopped.
  auto retrying = [&](auto request, auto progress) -> decltype(request()) {
    bool renewed = false;
    int busy = 0, failures = 0;
    uint64_t seen = progress();
    for (;;) {
      auto r = request();
      if (r) return r;
      const Errc code = r.error().code;
      if (code == Errc::kRelayUnauthorized && !renewed) {
        renewed = true;
        auto fresh = (*client)->open_session(*key, mailbox, o.now);
        if (!fresh) return fresh.error();
        *session = std::move(fresh.value());
        continue;
      }
      if (code == Errc::kRelayRetryLater && busy++ < 5) {
        wait(std::clamp<int64_t>((*client)->retry_after_seconds(), 1, 120));
        continue;
      }
      if (code != Errc::kNetwork) return r;
      if (const uint64_t now = progress(); now > seen) {
        seen = now;
        failures = 0;
        continue;
      }
      if (++failures >= o.download_attempts) return r;
      wait(std::min(1 << (failures - 1), 30));
    }
  };
  auto nothing = [] { return uint64_t{0}; };
  auto with_session = [&](auto request) { return retrying(request, nothing); };

  PullSummary summary;
  uint64_t listed = 0, done = 0;
  const int64_t day = day_of(o.now);
  // Uploads whose outcome is durable in the profile, to acknowledge (schema/relay-api.md, "When
  // a coordinator acknowledges"): held, or not mine.
  std::vector<std::string> held, not_mine;
  auto flush_acknowledgements = [&]() -> Status {
    if (held.empty() && not_mine.empty()) return Status::Ok();
    auto acked = with_session([&]() -> Result<bool> {
      Status s = (*client)->acknowledge_batch(*session, held, not_mine);
      if (!s) return s.error();
      return true;
    });
    if (!acked) return acked.error();
    summary.acknowledged += held.size();
    summary.not_mine += not_mine.size();
    held.clear();
    not_mine.clear();
    return Status::Ok();
  };
  // Counts an outcome, and files the upload for acknowledgement once its import is durable.
  auto tally = [&](const std::string& upload_id, const ImportOutcome& outcome,
                   std::vector<std::string>& to_hold, std::vector<std::string>& to_decline) {
    switch (outcome.result) {
      case ImportResult::kImported:
        summary.imported++;
        break;
      case ImportResult::kDuplicate:
        summary.duplicate++;
        break;
      case ImportResult::kCover:
        summary.cover++;
        break;
      case ImportResult::kQuarantined:
        summary.quarantined++;
        break;
      case ImportResult::kRetraction:
        summary.retractions++;
        break;
      case ImportResult::kJoined:
        summary.joined++;
        break;
    }
    // A bundle with no slot for this key may be for other coordinators (sealed before this one
    // joined the roster): declared not mine, which never counts towards deleting it.
    (outcome.no_slot ? to_decline : to_hold).push_back(upload_id);
  };
  auto verified = [&](const client::PendingUpload& u, const Hash32& hash) -> Status {
    if (to_hex(ByteView(hash.data(), hash.size())) == u.id) return Status::Ok();
    return make_error(Errc::kRelayRefused, "the relay served bytes that do not hash to upload " +
                                               u.id + ": nothing of it was imported");
  };

  // Small bundles: fetched in one request, imported in one transaction, then acknowledged in
  // one request. A cut fetch is asked again for the uploads not yet received.
  auto pull_batch = [&](std::span<const client::PendingUpload> batch) -> Status {
    SATCHEL_TRY(importer->begin_batch());
    std::vector<std::string> batch_held, batch_declined;
    size_t received = 0;
    const client::FetchedUpload each = [&](const client::PendingUpload& u,
                                           std::optional<ByteView> bytes) -> Status {
      received++;
      if (o.progress) o.progress(++done, listed);
      if (!bytes) return Status::Ok();  // delivered meanwhile (another coordinator, k < n)
      summary.bytes_downloaded += bytes->size();
      summary.bundle_bytes += u.size;
      SATCHEL_TRY(verified(u, Sha256::digest(*bytes)));
      MemorySource source(*bytes);
      auto outcome = importer->import(source, day);
      if (!outcome) return outcome.error();
      tally(u.id, *outcome, batch_held, batch_declined);
      return Status::Ok();
    };
    auto got = retrying(
        [&]() -> Result<size_t> {
          return (*client)->fetch(*session, batch.subspan(received), each);
        },
        [&] { return static_cast<uint64_t>(received); });
    if (!got) return got.error();
    SATCHEL_TRY(importer->commit_batch());
    held.insert(held.end(), batch_held.begin(), batch_held.end());
    not_mine.insert(not_mine.end(), batch_declined.begin(), batch_declined.end());
    return flush_acknowledgements();
  };

  // A large bundle: downloaded alone into a private file (resuming by Range after a cut),
  // imported in its own transaction.
  auto pull_one = [&](const client::PendingUpload& u) -> Status {
    auto file = DownloadFile::create(profile.home());
    if (!file) return file.error();
    auto got = retrying(
        [&]() -> Result<uint64_t> {
          return (*client)->download(*session, u.id, file->size(), u.size, *file);
        },
        [&] { return file->size(); });
    if (!got) return got.error();
    summary.bytes_downloaded += file->size();
    summary.bundle_bytes += u.size;
    auto hash = file->hash();
    if (!hash) return hash.error();
    SATCHEL_TRY(verified(u, *hash));
    auto outcome = importer->import(*file, day);
    if (!outcome) return outcome.error();
    tally(u.id, *outcome, held, not_mine);
    if (o.progress) o.progress(++done, listed);
    if (held.size() + not_mine.size() >= client::kMaxBatchUploads) return flush_acknowledgements();
    return Status::Ok();
  };

  std::string after;
  for (;;) {
    auto page = with_session([&] { return (*client)->list_pending(*session, after, o.page_size); });
    if (!page) return page.error();
    listed += page->uploads.size();
    for (const client::PendingUpload& u : page->uploads)
      summary.most_required = std::max(summary.most_required, u.required);
    std::vector<client::PendingUpload> batch;
    uint64_t batch_bytes = 0;
    for (const client::PendingUpload& u : page->uploads) {
      // Kept in quarantine by an earlier pull (it did not open here): acknowledged as it was
      // filed, without downloading it again.
      auto kept = quarantine_reason(profile, u.id);
      if (!kept) return kept.error();
      if (*kept) {
        summary.already_kept++;
        (kept_as_not_mine(**kept) ? not_mine : held).push_back(u.id);
        if (o.progress) o.progress(++done, listed);
        continue;
      }
      if (u.size > kBatchedBundleMax) {
        SATCHEL_TRY(pull_one(u));
        continue;
      }
      if (batch.size() == client::kMaxBatchUploads || batch_bytes + u.size > kBatchBytes) {
        SATCHEL_TRY(pull_batch(batch));
        batch.clear();
        batch_bytes = 0;
      }
      batch.push_back(u);
      batch_bytes += u.size;
    }
    if (!batch.empty()) SATCHEL_TRY(pull_batch(batch));
    SATCHEL_TRY(flush_acknowledgements());
    if (!page->next) break;
    after = *page->next;
  }
  // Under k < n, a bundle another coordinator pulled first may be deleted before this one sees
  // it: `coord devices` says so beside its gaps.
  summary.coordinators = (*roster)->coordinators.size();
  if (summary.most_required > 0)
    SATCHEL_TRY(profile.set_setting(
        kRelayAckRuleSetting,
        summary.most_required < summary.coordinators
            ? std::to_string(summary.most_required) + "/" + std::to_string(summary.coordinators)
            : std::string()));
  return summary;
}

}  // namespace satchel::coord
