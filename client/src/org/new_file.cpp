#include "org/new_file.h"

#include <filesystem>

#include "profile/disk_file.h"
#include "satchel/client/profile.h"

namespace satchel::org {

Status write_new_file(const std::string& path, ByteView text) {
  auto file = client::DiskFile::create(path, 0600);
  if (!file) return file.error();
  const uint8_t newline = '\n';
  Status s = file->write_at(0, text);
  if (s) s = file->write_at(text.size(), ByteView(&newline, 1));
  if (s) s = file->sync();
  if (!s) {
    (void)client::shred_file(path);
    return s;
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  return client::sync_directory(dir.empty() ? "." : dir);
}

}  // namespace satchel::org
