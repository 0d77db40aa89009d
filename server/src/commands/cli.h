// The satchel-relay command line: each add_*_command registers a subcommand whose callback sets
// the action main() runs after parsing. Exit codes: 0 success, 1 failure, 2 usage.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "satchel/crypto/status.h"

namespace satchel::relay::cli {

using Action = std::function<int()>;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;

// Prints "satchel-relay: <message>" to stderr and returns kExitFailure.
int fail(const std::string& message);
inline int fail(const Error& e) {
  return fail(e.message);
}

void add_init_command(CLI::App& app, Action& action);
void add_serve_command(CLI::App& app, Action& action);
void add_mailbox_command(CLI::App& app, Action& action);
void add_tls_command(CLI::App& app, Action& action);
void add_uploads_command(CLI::App& app, Action& action);
// `documents list|remove`: published documents of a mailbox, for the operator.
void add_documents_command(CLI::App& app, Action& action);

}  // namespace satchel::relay::cli
