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

// Whether a bundle with this upload id is already kept in quarantine (it did not open here).
Result<bool> kept_in_quarantine(client::Profile& p, const std::string& upload_id) {
  auto bytes = from_hex(upload_id);
  if (!bytes) return make_error(Errc::kInvalidArgument, "bad upload id");
  auto st = p.db().prepare("SELECT 1 FROM coord_quarantine WHERE upload_id = ?1");
  if (!st) return st.error();
  st->bind_blob(1, *bytes);
  auto row = st->step();
  if (!row) return row.error();
  return *row;
}

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
  auto with_session = [&](auto request) -> decltype(request()) {
    for (int tries = 0;; tries++) {
      auto r = request();
      if (r || tries >= 5) return r;
      const Errc code = r.error().code;
      if (code == Errc::kRelayUnauthorized && tries == 0) {
        auto fresh = (*client)->open_session(*key, mailbox, o.now);
        if (!fresh) return fresh.error();
        *session = std::move(fresh.value());
        continue;
      }
      if (code == Errc::kRelayRetryLater) {
        wait(std::clamp<int64_t>((*client)->retry_after_seconds(), 1, 120));
        continue;
      }
      return r;
    }
  };

  PullSummary summary;
  uint64_t listed = 0, done = 0;
  std::string after;
  const int64_t day = day_of(o.now);
  for (;;) {
    auto page = with_session([&] { return (*client)->list_pending(*session, after, o.page_size); });
    if (!page) return page.error();
    listed += page->uploads.size();
    for (const client::PendingUpload& u : page->uploads) {
      auto kept = kept_in_quarantine(profile, u.id);
      if (!kept) return kept.error();
      if (*kept) {
        summary.kept_unacknowledged++;
      } else {
        auto file = DownloadFile::create(profile.home());
        if (!file) return file.error();
        for (int attempt = 0;; attempt++) {
          auto got = with_session([&]() -> Result<uint64_t> {
            return (*client)->download(*session, u.id, file->size(), u.size, *file);
          });
          if (got) break;
          if (got.error().code != Errc::kNetwork || attempt + 1 >= o.download_attempts)
            return got.error();
          wait(std::min(1 << attempt, 30));
        }
        summary.bytes_downloaded += file->size();
        summary.bundle_bytes += u.size;
        auto hash = file->hash();
        if (!hash) return hash.error();
        if (to_hex(ByteView(hash->data(), hash->size())) != u.id)
          return make_error(Errc::kRelayRefused,
                            "the relay served bytes that do not hash to upload " + u.id +
                                ": nothing of it was imported");
        auto outcome = importer->import(*file, day);
        if (!outcome) return outcome.error();
        switch (outcome->result) {
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
        }
        // A bundle that did not open for this key may be for other coordinators (sealed
        // before this one joined the roster): it stays on the relay for them.
        if (!outcome->opened) {
          summary.kept_unacknowledged++;
          if (o.progress) o.progress(++done, listed);
          continue;
        }
      }
      if (!*kept) {
        auto acked = with_session([&]() -> Result<bool> {
          Status s = (*client)->acknowledge(*session, u.id);
          if (!s) return s.error();
          return true;
        });
        if (!acked) return acked.error();
        summary.acknowledged++;
      }
      if (o.progress) o.progress(++done, listed);
    }
    if (!page->next) break;
    after = *page->next;
  }
  return summary;
}

}  // namespace satchel::coord
