// Shared declarations of the satchel command-line front end: each cli_*.cpp registers one
// command tree on the CLI11 app; handlers return a process exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "satchel/crypto/status.h"

namespace satchel::cli {

// Exit codes: 0 success, 1 refused or failed (message on stderr), 2 usage error (CLI11).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;

// Prints "satchel: <message>" (and the reason code when given) to stderr; returns kExitFailed.
int fail(const Error& e);
int fail(const std::string& message);

// The handler to run after parsing; a command sets it in its callback.
using Action = std::function<int()>;

void add_keygen_command(CLI::App& app, Action& action);
void add_bundle_command(CLI::App& app, Action& action);
void add_org_command(CLI::App& app, Action& action);

// Reads a whole (small, non-secret) file; fails with a message naming the path.
Result<std::string> read_text_file(const std::string& path, size_t max_bytes);
// Writes a new file atomically (temp + fsync + rename); refuses to overwrite unless `overwrite`.
Status write_text_file(const std::string& path, std::string_view text, bool overwrite);

}  // namespace satchel::cli
