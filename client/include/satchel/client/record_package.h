// The body of a record bundle (schema/record-package.md): a version byte, the manifest JSON
// (record, form, answers, attachment list) with its length, then every attachment's bytes in
// manifest order. Produced as a stream, in constant memory.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "satchel/client/record_store.h"

namespace satchel::client {

inline constexpr uint8_t kRecordPackageVersion = 1;

class RecordPackageSource final : public ByteSource {
 public:
  // manifest must already list `attachments` (in that order) under "attachments".
  static Result<RecordPackageSource> open(RecordStore& store, const std::string& record_id,
                                          const nlohmann::json& manifest,
                                          const std::vector<AttachmentInfo>& attachments);
  uint64_t size() const { return size_; }
  Result<size_t> read(std::span<uint8_t> out) override;

 private:
  RecordPackageSource() = default;
  RecordStore* store_ = nullptr;
  std::string record_id_;
  Bytes head_;
  size_t head_pos_ = 0;
  std::vector<AttachmentInfo> attachments_;
  size_t current_ = 0;
  std::optional<AttachmentReader> reader_;
  uint64_t size_ = 0;
};

}  // namespace satchel::client
