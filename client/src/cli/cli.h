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
// Prints "satchel: <context>: <message> [code]": an error about one argument ("--to #2").
int fail(const std::string& context, const Error& e);

// A Unix time in UTC, formatted by strftime's `format` (e.g. "%Y-%m-%d"); "out of range (N)"
// for a time the C library cannot represent, such as a hostile bundle's created_at.
std::string format_utc(int64_t unix_seconds, const char* format);

// The handler to run after parsing; a command sets it in its callback.
using Action = std::function<int()>;

// Where the profile is and where passphrases come from (global options).
struct ProfileOptions {
  std::string home;        // --home DIR; empty: SATCHEL_HOME or the default
  int passphrase_fd = -1;  // --passphrase-fd N
};
ProfileOptions& profile_options();
void add_profile_options(CLI::App& app);

void add_keygen_command(CLI::App& app, Action& action);
void add_profile_commands(CLI::App& app, Action& action);
void add_trust_commands(CLI::App& app, Action& action);
void add_form_commands(CLI::App& app, Action& action);
void add_record_commands(CLI::App& app, Action& action);
void add_bundle_command(CLI::App& app, Action& action);
void add_org_command(CLI::App& app, Action& action);
void add_sync_commands(CLI::App& app, Action& action);
void add_join_command(CLI::App& app, Action& action);

// Reads a whole (small, non-secret) file; fails with a message naming the path.
Result<std::string> read_text_file(const std::string& path, size_t max_bytes);
// Writes a new file atomically (temp + fsync + rename); refuses to overwrite unless `overwrite`.
Status write_text_file(const std::string& path, std::string_view text, bool overwrite);

}  // namespace satchel::cli
