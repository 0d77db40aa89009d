// The payload's hashing (and writing) thread, fed through a bounded ring of blocks (see
// payload_pipeline.h).
#include "payload_pipeline.h"

#include <system_error>

#include "satchel/crypto/secret.h"

namespace satchel {

PayloadPipeline::PayloadPipeline(size_t slots, size_t cipher_size, size_t plain_size, bool threaded,
                                 ByteSink* sink)
    : sink_(sink) {
  if (threaded && slots >= 2) {
    cipher_.resize(slots);
    plain_.resize(slots);
    jobs_.resize(slots);
    try {
      helper_ = std::thread([this] { run(); });
    } catch (const std::system_error&) {
      // No thread to be had (resource limits): work inline rather than fail the operation.
    }
  }
  if (!helper_.joinable()) {
    cipher_.resize(1);
    plain_.resize(1);
    jobs_.resize(1);
  }
  sink_on_helper_ = helper_.joinable() && sink_ != nullptr && sink_->writable_from_any_thread();
  for (auto& b : cipher_) b.resize(cipher_size);
  for (auto& b : plain_) b.resize(plain_size);
}

PayloadPipeline::~PayloadPipeline() {
  if (helper_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_.notify_one();
    helper_.join();
  }
  for (auto& b : plain_)
    if (!b.empty()) wipe(b.data(), b.size());
}

PayloadPipeline::Block PayloadPipeline::next() {
  const size_t k = cipher_.size();
  if (helper_.joinable()) {
    // The slot handed out now last held block number submitted_ - k: wait until it is done.
    std::unique_lock<std::mutex> lock(mu_);
    room_.wait(lock, [&] { return submitted_ - done_ < k; });
  }
  const size_t slot = submitted_ % k;
  return Block{std::span<uint8_t>(cipher_[slot]), std::span<uint8_t>(plain_[slot])};
}

Status PayloadPipeline::process(const Job& job, size_t slot) {
  sha_.update(ByteView(cipher_[slot].data(), job.hash_len));
  if (!sink_on_helper_ || job.out.empty()) return Status::Ok();
  return sink_->write(job.out);
}

Status PayloadPipeline::submit(size_t hash_len, ByteView out) {
  const size_t k = cipher_.size();
  const size_t slot = submitted_ % k;
  if (!helper_.joinable()) {
    submitted_++;
    done_++;
    if (!failed_) return failed_;
    sha_.update(ByteView(cipher_[slot].data(), hash_len));
    if (sink_ != nullptr && !out.empty()) failed_ = sink_->write(out);
    return failed_;
  }
  // A sink that must stay on this thread is written here, while the helper hashes.
  Status local;
  if (!sink_on_helper_ && sink_ != nullptr && !out.empty()) local = sink_->write(out);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!local && failed_) failed_ = local;
    if (!failed_) return failed_;
    jobs_[slot] = Job{hash_len, out};
    submitted_++;
  }
  work_.notify_one();
  return Status::Ok();
}

Result<Hash32> PayloadPipeline::finish() {
  if (helper_.joinable()) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      room_.wait(lock, [&] { return done_ == submitted_; });
      stop_ = true;
    }
    work_.notify_one();
    helper_.join();
  }
  if (!failed_) return failed_.error();
  return sha_.finish();
}

void PayloadPipeline::run() {
  const size_t k = cipher_.size();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_.wait(lock, [&] { return stop_ || done_ < submitted_; });
    if (stop_) return;  // finished (nothing queued) or abandoned
    const size_t slot = done_ % k;
    const Job job = jobs_[slot];
    const bool skip = !failed_.ok();
    lock.unlock();
    Status s = skip ? Status::Ok() : process(job, slot);
    lock.lock();
    if (!s && failed_) failed_ = s;
    done_++;
    room_.notify_one();
  }
}

}  // namespace satchel
