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
  return std::chrono::milliseconds(
      std::max<int64_t>(delay, std::chrono::duration_cast<std::chrono::milliseconds>(retry_after).count()));
}

namespace {

bool fatal(Errc code) {
  return code == Errc::kRelayPinMismatch || code == Errc::kRelayUnauthorized ||
         code == Errc::kIoError || code == Errc::kInternal;
}

bool retryable(Errc code) { return code == Errc::kNetwork || code == Errc::kRelayRetryLater; }

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
    uint32_t failures = 0;
    uint64_t best_offset = entry.state == "uploading" ? entry.uploaded_offset : 0;
    // A bundle never sent starts with one creation request carrying its bytes; anything else
    // first asks the relay where it stands.
    bool ask_first = entry.state == "uploading";
    for (;;) {
      if (options_.cancelled && options_.cancelled()) {
        report_.problems.push_back(entry.upload_id.substr(0, 16) + ": interrupted");
        return false;
      }
      Result<UploadStatus> answer = Error{};
      if (ask_first) {
        ++report_.requests;
        answer = relay_.status(entry.upload_id, token_);
        if (answer && answer->state == UploadState::kPartial) {
          if (answer->offset > best_offset) failures = 0;  // the relay kept what arrived
          best_offset = answer->offset;
          committed(answer->offset);
          SATCHEL_TRY(outbox_.set_state(entry.outbox_id, "uploading", answer->offset));
          ++report_.requests;
          answer = relay_.append(entry.upload_id, answer->offset,
                                 std::min(entry.size - answer->offset, options_.max_request_bytes),
                                 token_, body);
        } else if (answer && answer->state == UploadState::kAbsent) {
          SATCHEL_TRY(outbox_.set_state(entry.outbox_id, "uploading", 0));
          ++report_.requests;
          answer = relay_.create(entry.upload_id, entry.size, options_.max_request_bytes, token_,
                                 body);
        }
      } else {
        SATCHEL_TRY(outbox_.set_state(entry.outbox_id, "uploading", 0));
        ++report_.requests;
        answer = relay_.create(entry.upload_id, entry.size, options_.max_request_bytes, token_,
                               body);
      }
      if (answer) {
        if (answer->length != entry.size)
          return make_error(Errc::kRelayRefused,
                            "the relay reports another length for bundle " +
                                entry.upload_id.substr(0, 16));
        if (answer->state == UploadState::kStored || answer->state == UploadState::kDelivered) {
          committed(entry.size);
          return true;
        }
        // Partial after a request that completed: continue from the new offset.
        if (answer->offset > best_offset) failures = 0;
        best_offset = std::max(best_offset, answer->offset);
        committed(answer->offset);
        ask_first = true;
        continue;
      }
      const Error& e = answer.error();
      if (fatal(e.code)) return e;
      if (!retryable(e.code)) {
        report_.problems.push_back(entry.upload_id.substr(0, 16) + ": " + e.message);
        return false;
      }
      const auto retry_after = std::chrono::seconds(relay_.retry_after_seconds());
      if (retry_after > options_.max_wait)
        return make_error(Errc::kRelayRetryLater,
                          e.message + "; the relay asks to wait " +
                              std::to_string(retry_after.count()) + " s: try again later");
      if (++failures >= options_.max_failures) {
        report_.problems.push_back(entry.upload_id.substr(0, 16) + ": gave up after " +
                                   std::to_string(failures) + " failures (" + e.message + ")");
        return false;
      }
      options_.sleep(backoff_delay(failures - 1, options_.backoff_base, options_.backoff_cap,
                                   retry_after));
      ask_first = true;
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

Result<SyncReport> sync_outbox(Outbox& outbox, RelayClient& relay, const SecretBytes& token,
                               const SyncOptions& given) {
  SyncOptions options = given;
  if (!options.sleep) options.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  if (options.max_request_bytes == 0 || options.max_failures == 0)
    return make_error(Errc::kInvalidArgument, "sync options: zero request size or failures");

  auto listed = outbox.list();
  if (!listed) return listed.error();
  SyncReport report;
  std::vector<OutboxEntry> work;
  for (OutboxEntry& e : *listed) {
    if (e.state == "exported" && !options.include_exported) continue;
    if (e.state == "stored") {
      // Kept until delivered: ask, and forget it once the coordinators have it.
      ++report.requests;
      auto s = relay.status(e.upload_id, token);
      if (!s) {
        if (fatal(s.error().code)) return s.error();
        continue;
      }
      if (s->state == UploadState::kDelivered || (options.delete_when_stored && s->state == UploadState::kStored)) {
        SATCHEL_TRY(outbox.remove(e.outbox_id));
        ++report.deleted;
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
    } else {
      SATCHEL_TRY(outbox.set_state(e.outbox_id, "stored", e.size));
    }
  }
  report.bytes_sent = relay.body_bytes_sent() - before_sent;
  // Deleted means gone: secure_delete zeroed the rows' pages, and the checkpoint removes the WAL
  // frames that still held the bundles' earlier pages.
  if (report.deleted > 0) SATCHEL_TRY(outbox.checkpoint());
  return report;
}

}  // namespace satchel::client
