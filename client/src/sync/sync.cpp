#include "satchel/client/sync.h"

#include <sodium.h>

#include <algorithm>
#include <thread>

namespace satchel::client {

std::chrono::milliseconds backoff_delay(uint32_t failures, std::chrono::milliseconds base,
                                        std::chrono::milliseconds cap,
                                        std::chrono::seconds retry_after) {
  const uint32_t shift = std::min<uint32_t>(failures, 20);
  const int64_t ceiling = std::min<int64_t>(cap.count(), base.count() << shift);
  int64_t delay = 0;
  if (ceiling > 0)
    delay = static_cast<int64_t>(
        randombytes_uniform(static_cast<uint32_t>(std::min<int64_t>(ceiling, UINT32_MAX - 1)) + 1));
  return std::chrono::milliseconds(std::max<int64_t>(
      delay, std::chrono::duration_cast<std::chrono::milliseconds>(retry_after).count()));
}

namespace {

bool fatal(Errc code) {
  return code == Errc::kRelayPinMismatch || code == Errc::kRelayUnauthorized ||
         code == Errc::kIoError || code == Errc::kInternal;
}

bool retryable(Errc code) {
  return code == Errc::kNetwork || code == Errc::kRelayRetryLater;
}

class BundleUpload {
 public:
  BundleUpload(Outbox& outbox, RelayClient& relay, const SecretBytes& token,
               const SyncOptions& options, SyncReport& report)
      : outbox_(outbox), relay_(relay), token_(token), options_(options), report_(report) {}

  // Sends one entry until the relay has it. Ok(true): stored or delivered. Ok(false): left
  // pending (the reason is in report_.problems). An error ends the whole run.
  Result<bool> run(const OutboxEntry& entry, const std::function<void(uint64_t)>& committed) {
    const BodyReader body = [&](uint64_t offset, size_t max, Bytes& out) {
      return outbox_.read_range(entry.outbox_id, offset, max, out);
    };
    // What to do next. A bundle never sent starts with one creation request carrying its bytes;
    // one that was being sent first asks the relay where it stands.
    enum class Step { kCreate, kAsk, kAppend };
    Step step = entry.state == "uploading" ? Step::kAsk : Step::kCreate;
    uint64_t at = 0;  // the relay's committed offset, for kAppend
    uint64_t best_offset = 0;
    uint32_t failures = 0;
    const uint64_t sent_before = relay_.body_bytes_sent();
    for (;;) {
      if (options_.cancelled && options_.cancelled()) {
        report_.problems.push_back(entry.upload_id.substr(0, 16) + ": interrupted");
        return false;
      }
      Result<UploadStatus> answer = Error{};
      ++report_.requests;
      if (step == Step::kAsk) {
        answer = relay_.status(entry.upload_id, token_);
        if (answer && answer->state == UploadState::kAbsent) {
          step = Step::kCreate;
          continue;
        }
      } else if (step == Step::kCreate) {
        SATCHEL_TRY(outbox_.set_state(entry.outbox_id, "uploading", 0));
        answer =
            relay_.create(entry.upload_id, entry.size, options_.max_request_bytes, token_, body);
      } else {
        SATCHEL_TRY(outbox_.set_state(entry.outbox_id, "uploading", at));
        answer = relay_.append(entry.upload_id, at,
                               std::min(entry.size - at, options_.max_request_bytes), token_, body);
      }
      if (answer && answer->length != entry.size) {
        report_.problems.push_back(entry.upload_id.substr(0, 16) +
                                   ": the relay reports another length for it");
        return false;
      }
      // However the relay answers, one run never sends a bundle's bytes more than about twice.
      if (relay_.body_bytes_sent() - sent_before > 2 * entry.size + (1u << 20)) {
        report_.problems.push_back(entry.upload_id.substr(0, 16) +
                                   ": the relay keeps too little of what is sent; left for later");
        return false;
      }
      if (answer) {
        if (answer->state == UploadState::kStored || answer->state == UploadState::kDelivered) {
          committed(entry.size);
          return true;
        }
        // Partial: continue from the relay's committed offset (it kept what arrived).
        const bool moved = answer->offset > best_offset;
        const bool was_ask = step == Step::kAsk;
        best_offset = std::max(best_offset, answer->offset);
        committed(answer->offset);
        at = answer->offset;
        step = Step::kAppend;
        if (moved) failures = 0;
        if (moved || was_ask) continue;  // a HEAD's answer is simply where to continue from
      }
      // A failure, or an answer that moved nothing: back off, within bounds.
      const Error e = answer ? make_error(Errc::kRelayRetryLater, "the relay made no progress")
                             : answer.error();
      if (fatal(e.code)) return e;
      if (!retryable(e.code)) {
        report_.problems.push_back(entry.upload_id.substr(0, 16) + ": " + e.message);
        return false;
      }
      const auto retry_after = std::chrono::seconds(relay_.retry_after_seconds());
      if (retry_after > options_.max_wait)
        return make_error(Errc::kRelayRetryLater, e.message + "; the relay asks to wait " +
                                                      std::to_string(retry_after.count()) +
                                                      " s: try again later");
      if (++failures >= options_.max_failures) {
        report_.problems.push_back(entry.upload_id.substr(0, 16) + ": gave up after " +
                                   std::to_string(failures) + " failures (" + e.message + ")");
        return false;
      }
      options_.sleep(
          backoff_delay(failures - 1, options_.backoff_base, options_.backoff_cap, retry_after));
      // A refusal given before the body was read (rate limit, busy, locked) changed nothing on
      // the relay: repeat the same request. After anything else, ask where the upload stands.
      if (!answer && !relay_.last_refusal_changed_nothing()) step = Step::kAsk;
    }
  }

 private:
  Outbox& outbox_;
  RelayClient& relay_;
  const SecretBytes& token_;
  const SyncOptions& options_;
  SyncReport& report_;
};

}  // namespace

namespace {

Result<SyncReport> sync_entries(Outbox& outbox, RelayClient& relay, const SecretBytes& token,
                                const SyncOptions& given, size_t& deleted) {
  SyncOptions options = given;
  if (!options.sleep)
    options.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  if (options.max_request_bytes == 0 || options.max_failures == 0)
    return make_error(Errc::kInvalidArgument, "sync options: zero request size or failures");

  auto listed = outbox.list();
  if (!listed) return listed.error();
  SyncReport report;
  std::vector<OutboxEntry> work;
  for (OutboxEntry& e : *listed) {
    // (A stored entry is only asked about, which sends no bundle bytes: never skipped.)
    if (e.exported && !options.include_exported && e.state != "stored") continue;
    if (e.state == "stored") {
      // Kept until delivered: ask, and forget it once the coordinators have it.
      ++report.requests;
      auto s = relay.status(e.upload_id, token);
      if (!s) {
        if (fatal(s.error().code)) return s.error();
        continue;
      }
      if (s->length != e.size) continue;  // not this bundle's answer: keep it, ask next time
      if (s->state == UploadState::kDelivered ||
          (options.delete_when_stored && s->state == UploadState::kStored)) {
        SATCHEL_TRY(outbox.remove(e.outbox_id));
        ++report.deleted;
        ++deleted;
      } else if (s->state == UploadState::kAbsent || s->state == UploadState::kPartial) {
        // The relay lost track of it (tombstone lapsed after delivery, or an operator's
        // retention): send it again rather than assume it arrived.
        e.state = "uploading";
        e.uploaded_offset = 0;
        work.push_back(e);
      }
      continue;
    }
    work.push_back(e);
  }
  // Random order: the sequence of uploads says nothing about the order records were made.
  for (size_t i = work.size(); i > 1; --i)
    std::swap(work[i - 1], work[randombytes_uniform(static_cast<uint32_t>(i))]);

  SyncProgress progress;
  progress.bundles = work.size();
  for (const OutboxEntry& e : work) progress.bytes_total += e.size;
  const uint64_t before_sent = relay.body_bytes_sent();
  BundleUpload upload(outbox, relay, token, options, report);
  uint64_t done_before = 0;
  for (size_t i = 0; i < work.size(); ++i) {
    const OutboxEntry& e = work[i];
    progress.bundle = i + 1;
    auto committed = [&](uint64_t offset) {
      progress.bytes_done = done_before + offset;
      if (options.progress) options.progress(progress);
    };
    committed(0);
    auto r = upload.run(e, committed);
    report.bytes_sent = relay.body_bytes_sent() - before_sent;
    if (!r) return r.error();
    done_before += e.size;
    if (!*r) {
      ++report.pending;
      continue;
    }
    ++report.stored;
    report.bundle_bytes += e.size;
    if (options.delete_when_stored) {
      SATCHEL_TRY(outbox.remove(e.outbox_id));
      ++report.deleted;
      ++deleted;
    } else {
      SATCHEL_TRY(outbox.set_state(e.outbox_id, "stored", 0));  // no size in the clear
    }
  }
  report.bytes_sent = relay.body_bytes_sent() - before_sent;
  return report;
}

}  // namespace

Result<SyncReport> sync_outbox(Outbox& outbox, RelayClient& relay, const SecretBytes& token,
                               const SyncOptions& options) {
  // A removed entry is gone for good: its rows are deleted and its key destroyed (Outbox::remove),
  // so the copies SQLite leaves in its journal and free pages are unreadable.
  size_t deleted = 0;
  return sync_entries(outbox, relay, token, options, deleted);
}

}  // namespace satchel::client
