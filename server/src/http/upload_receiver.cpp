// Receiving tus bodies into the store (see upload_receiver.h).
#include "http/upload_receiver.h"

#include <algorithm>
#include <chrono>

#include "http/bounded_stream.h"
#include "http/http_answers.h"
#include "satchel/crypto/sha256.h"
#include "satchel/relay/file_ops.h"

namespace satchel::relay {

namespace {

// Maps a failed commit to its answer: a hash mismatch at completion, or a storage failure.
void refuse_upload_failure(const httplib::Request& req, httplib::Response& res, const Error& e,
                           bool close) {
  res.set_header("Tus-Resumable", kTusVersion);
  if (e.code == Errc::kInvalidArgument)
    refuse(req, res, 400, "upload-hash-mismatch", close);
  else
    refuse_store_failure(req, res, e, close);
}

}  // namespace

void add_upload_headers(const Relay& relay, httplib::Response& res, uint64_t offset,
                        uint64_t length, std::string_view state, Day last_write) {
  res.set_header("Tus-Resumable", kTusVersion);
  res.set_header("Upload-Offset", std::to_string(offset));
  res.set_header("Upload-Length", std::to_string(length));
  res.set_header("Upload-State", std::string(state));
  res.set_header("Cache-Control", "no-store");
  if (state == "partial")
    res.set_header("Upload-Expires",
                   http_date_of_day(last_write + relay.config.partial_expiry_days + 1));
}

TokenKey token_key_of(const RequestContext& ctx) {
  return TokenKey{ctx.mailbox, ctx.device ? ctx.device->token_id : std::string()};
}

void answer_lingering(Relay& relay, const httplib::Request& req, httplib::Response& res,
                      const RequestContext& ctx, int status, std::string body) {
  const uint64_t most = std::min(ctx.content_length, kLingerBytes);
  BoundedStream* stream = current_stream_to_drain();
  // Bytes are given back only if they were reserved: a token past its daily allowance must not
  // lower its count by sending heads it never follows with a body.
  const bool reserved = stream && most > 0 && relay.daily_bytes.reserve(ctx.credential, most);
  auto hold = reserved
                  ? relay.token_budgets.try_hold(token_key_of(ctx), TokenBudgets::Kind::kThread)
                  : std::nullopt;
  if (reserved && !hold) relay.daily_bytes.release(ctx.credential, most);
  if (hold) {
    // The connection's close drains (serve_connection), holding this thread of the token's
    // share until it is done; the reserved bytes not drained are given back then.
    auto held = std::make_shared<TokenBudgets::Hold>(std::move(*hold));
    Relay* r = &relay;
    const Hash32 credential = ctx.credential;
    stream->allow_drain(most, kLingerTime, [r, credential, most, held](uint64_t drained) {
      r->daily_bytes.release(credential, most - std::min(most, drained));
    });
  }
  answer(req, res, status, std::move(body), kJsonType, ctx.content_length > 0);
}

size_t remove_partials_of_revoked(Relay& relay, std::string_view mailbox,
                                  std::optional<std::string_view> token_id) {
  size_t removed = 0;
  for (const Hash32& id : relay.token_budgets.take_open(mailbox, token_id))
    if (relay.store.terminate_upload(mailbox, id, relay.clock.today())) removed++;
  return removed;
}

std::optional<BodyOutcome> receive_upload_body(Relay& relay, const httplib::Request& req,
                                               httplib::Response& res,
                                               const httplib::ContentReader& reader,
                                               const RequestContext& ctx, const BodyTarget& t,
                                               std::unique_ptr<UploadWriter> begun) {
  const uint64_t body = ctx.content_length;
  const uint64_t skip = t.committed - t.body_offset;  // bytes of this body already held
  const uint64_t fresh = body > skip ? body - skip : 0;
  if (t.committed + fresh > t.length) {
    res.set_header("Tus-Resumable", kTusVersion);
    refuse(req, res, 400, "past-upload-length", true);
    return std::nullopt;
  }
  if (!relay.daily_bytes.reserve(ctx.credential, fresh)) {
    res.set_header("Tus-Resumable", kTusVersion);
    refuse_retry_after(req, res, 429, "daily-bytes-exceeded",
                       relay.daily_bytes.seconds_until_renewal());
    return std::nullopt;
  }
  // A token holds at most its share of threads and slots, so that others are still served.
  const TokenKey key = token_key_of(ctx);
  auto thread =
      body > 0 ? relay.token_budgets.try_hold(key, TokenBudgets::Kind::kThread) : std::nullopt;
  auto token_slot =
      thread ? relay.token_budgets.try_hold(key, TokenBudgets::Kind::kSlot) : std::nullopt;
  auto slot = token_slot ? relay.upload_slots.try_acquire() : std::nullopt;
  if (body > 0 && !slot) {
    relay.daily_bytes.release(ctx.credential, fresh);
    res.set_header("Tus-Resumable", kTusVersion);
    refuse_retry_after(req, res, 503, "busy", 5);
    return std::nullopt;
  }
  const Day today = relay.clock.today();
  // Refusals above drop a begun upload's writer, which records the upload partial at offset 0,
  // as a creation without a body would have left it.
  auto writer = begun ? Result<std::unique_ptr<UploadWriter>>(std::move(begun))
                      : relay.store.open_writer(ctx.mailbox, t.id, t.committed, today);
  if (!writer) {
    relay.daily_bytes.release(ctx.credential, fresh);
    res.set_header("Tus-Resumable", kTusVersion);
    if (writer.code() == Errc::kAlreadyExists)
      refuse(req, res, 423, "locked", true);
    else if (writer.code() == Errc::kInvalidArgument)
      refuse(req, res, 409, "offset-mismatch", true);
    else if (writer.code() == Errc::kNotFound)
      refuse(req, res, 404, "not-found", true);
    else
      refuse_store_failure(req, res, writer.error(), true);
    return std::nullopt;
  }

  std::unique_ptr<Sha256> body_hash;
  if (t.checksum) body_hash = std::make_unique<Sha256>();
  uint64_t seen = 0;
  Status write_status;
  // The library hands the body over 4 KiB at a time: the bytes are gathered and written to the
  // store kWriteBatchBytes at a time (a 4 MiB bundle: 16 writes instead of 1,024).
  Bytes batch;
  batch.reserve(static_cast<size_t>(std::min<uint64_t>(fresh, kWriteBatchBytes)));
  auto flush = [&] {
    if (write_status && !batch.empty()) write_status = (*writer)->write(batch);
    batch.clear();
  };
  auto receive = [&](const char* data, size_t n) {
    ByteView chunk(reinterpret_cast<const uint8_t*>(data), n);
    if (body_hash) body_hash->update(chunk);
    // After a failed write the rest of the body is still read (and dropped), so the client
    // reads the answer instead of a reset connection.
    if (write_status && seen + n > skip) {
      const uint64_t from = seen >= skip ? 0 : skip - seen;
      ByteView rest = chunk.subspan(static_cast<size_t>(from));
      while (write_status && !rest.empty()) {  // never past kWriteBatchBytes (no regrowth)
        const size_t take = std::min(rest.size(), kWriteBatchBytes - batch.size());
        batch.insert(batch.end(), rest.begin(), rest.begin() + static_cast<ptrdiff_t>(take));
        rest = rest.subspan(take);
        if (batch.size() == kWriteBatchBytes) flush();
      }
    }
    seen += n;
    return true;
  };
  // The connection layer holds every body to the minimum rate (bounded_stream.h): a body that
  // falls short ends there, and says why. What arrived before is written all the same.
  const bool read_ok = body == 0 || reader(receive);
  flush();
  const BoundedStream* stream = current_stream();
  const bool too_slow = stream && stream->failure() == ReadFailure::kBodyTooSlow;
  relay.daily_bytes.release(ctx.credential, fresh - std::min(fresh, (*writer)->written()));
  if (!write_status) {
    writer->reset();
    res.set_header("Tus-Resumable", kTusVersion);
    refuse_store_failure(req, res, write_status.error(), !(read_ok && seen == body));
    return std::nullopt;
  }
  const bool whole = read_ok && seen == body;
  if (t.checksum) {
    // All or nothing: a partial body cannot be checked, a mismatching one is not kept.
    const bool match = whole && body_hash->finish() == *t.checksum;
    if (!match) {
      writer->reset();
      res.set_header("Tus-Resumable", kTusVersion);
      if (whole)
        refuse(req, res, 460, "checksum-mismatch", false);
      else
        refuse(req, res, too_slow ? 408 : 400, too_slow ? "too-slow" : "incomplete-body", true);
      return std::nullopt;
    }
  }
  // Without a checksum the bytes that arrived are kept even if the body was cut short: the
  // client asks for the offset and continues (the whole-bundle hash is checked at the end).
  auto committed = (*writer)->commit();
  writer->reset();
  if (!committed) {
    refuse_upload_failure(req, res, committed.error(), !whole);
    return std::nullopt;
  }
  if (!whole) {
    res.set_header("Tus-Resumable", kTusVersion);
    refuse(req, res, too_slow ? 408 : 400, too_slow ? "too-slow" : "incomplete-body", true);
    return std::nullopt;
  }
  return BodyOutcome{committed->committed, committed->stored};
}

}  // namespace satchel::relay
