// A new file holding one document: what `org publish` and `org invite-base` write.
#pragma once

#include <string>

#include "satchel/crypto/encoding.h"
#include "satchel/crypto/status.h"

namespace satchel::org {

// Creates `path` (never over an existing file or through a symbolic link: kAlreadyExists),
// mode 0600, writes `text` and a newline, syncs it and its directory. On failure a partial file
// is shredded (the text may be a secret).
Status write_new_file(const std::string& path, ByteView text);

}  // namespace satchel::org
