// Internal to crypto/: the write path the file sinks share (io.cpp, staged_file_sink.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/status.h"

namespace satchel::file_write {

// An kIoError naming the operation, the path and errno's text.
Error errno_error(const std::string& what, const std::string& path);

// Writes all of data at fd's position (retrying short writes and EINTR); `written` counts the
// bytes written so far. Every few MiB it asks the kernel to start writing back what it has
// (`writeback_from` is where the last request ended), so the disk works while the caller
// computes the next bytes and the final fsync finds little left to flush.
Status write_all(int fd, ByteView data, const std::string& path, uint64_t& written,
                 uint64_t& writeback_from);

}  // namespace satchel::file_write
