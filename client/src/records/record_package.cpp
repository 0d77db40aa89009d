#include "satchel/client/record_package.h"

#include <cstring>

namespace satchel::client {

Result<RecordPackageSource> RecordPackageSource::open(
    RecordStore& store, const std::string& record_id, const nlohmann::json& manifest,
    const std::vector<AttachmentInfo>& attachments) {
  RecordPackageSource src;
  src.store_ = &store;
  src.record_id_ = record_id;
  src.attachments_ = attachments;
  std::string m = manifest.dump();
  WireWriter w;
  w.u8(kRecordPackageVersion);
  w.u32(static_cast<uint32_t>(m.size()));
  w.bytes(as_bytes(m));
  wipe(m.data(), m.size());
  src.head_ = w.take();
  src.size_ = src.head_.size();
  for (const auto& a : attachments) src.size_ += a.size;
  return src;
}

Result<size_t> RecordPackageSource::read(std::span<uint8_t> out) {
  size_t got = 0;
  if (head_pos_ < head_.size()) {
    size_t n = std::min(out.size(), head_.size() - head_pos_);
    std::memcpy(out.data(), head_.data() + head_pos_, n);
    head_pos_ += n;
    got += n;
    if (head_pos_ == head_.size()) wipe(head_.data(), head_.size());
  }
  while (got < out.size() && current_ < attachments_.size()) {
    if (!reader_) {
      auto r = store_->open_attachment(record_id_, attachments_[current_].attachment_id);
      if (!r) return r.error();
      reader_.emplace(std::move(r.value()));
    }
    auto n = reader_->read(out.subspan(got));
    if (!n) return n.error();
    if (*n == 0) {
      reader_.reset();
      current_++;
    }
    got += *n;
  }
  return got;
}

}  // namespace satchel::client
