// `satchel join`: a new device joins its organisation with nothing but an invite. This file
// only reads, prompts and prints; the join itself is client/src/sync/join.cpp.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "cli/cli.h"
#include "cli/cli_session.h"
#include "satchel/client/join.h"
#include "satchel/client/passphrase.h"
#include "satchel/client/profile.h"

namespace satchel::cli {
namespace {

constexpr size_t kMaxInviteBytes = 16 * 1024;  // the largest invite is about 2.6 KB of text

struct JoinArgs {
  std::string invite_file;
  std::string label;
  std::string confirm;
  InitArgs init;
};

bool is_space(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Reads an invite from `fd` into secret memory: everything up to end of file, or one line when
// `one_line` (a terminal). White space around it is dropped.
Result<SecretBytes> read_invite(int fd, bool one_line) {
  SecretBytes buf(kMaxInviteBytes + 1);
  size_t n = 0;
  while (n < buf.size()) {
    const ssize_t r = ::read(fd, buf.data() + n, one_line ? 1 : buf.size() - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return make_error(Errc::kIoError,
                        std::string("cannot read the invite: ") + std::strerror(errno));
    if (r == 0) break;
    n += static_cast<size_t>(r);
    if (one_line && buf.data()[n - 1] == '\n') break;
  }
  if (n > kMaxInviteBytes)
    return make_error(Errc::kInvalidArgument,
                      "the input is longer than 16 KiB: not an invite (INV1-…)");
  size_t b = 0, e = n;
  while (b < e && is_space(buf.data()[b])) ++b;
  while (e > b && is_space(buf.data()[e - 1])) --e;
  if (b == e)
    return make_error(Errc::kInvalidArgument,
                      "no invite was given: pipe it on standard input or use --invite-file FILE");
  SecretBytes out(e - b);
  std::memcpy(out.data(), buf.data() + b, out.size());
  return out;
}

Result<SecretBytes> read_invite_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(Errc::kIoError,
                      "cannot open the invite file " + path + ": " + std::strerror(errno));
  auto text = read_invite(fd, false);
  ::close(fd);
  return text;
}

// One line typed on the terminal, with echo (a fingerprint is not secret).
Result<std::string> ask_terminal(const std::string& prompt) {
  const int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty < 0)
    return make_error(Errc::kInvalidArgument,
                      "no terminal to type the fingerprint on: pass it with --confirm FP");
  if (::write(tty, prompt.data(), prompt.size()) < 0) { /* the prompt is a courtesy */
  }
  std::string line;
  char c = 0;
  while (line.size() < 256) {
    const ssize_t r = ::read(tty, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || c == '\n') break;
    line.push_back(c);
  }
  ::close(tty);
  return line;
}

// A name as the invite claims it, with control and bidirectional characters made visible.
std::string visible(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<uint8_t>(s[i]);
    const auto next = i + 1 < s.size() ? static_cast<uint8_t>(s[i + 1]) : 0;
    const auto third = i + 2 < s.size() ? static_cast<uint8_t>(s[i + 2]) : 0;
    const bool c1 = c == 0xC2 && next >= 0x80 && next <= 0x9F;
    const bool bidi =
        c == 0xE2 &&
        ((next == 0x80 && (third == 0x8E || third == 0x8F || (third >= 0xAA && third <= 0xAE))) ||
         (next == 0x81 && third >= 0xA6 && third <= 0xA9));
    char hex[8];
    if (c < 0x20 || c == 0x7F) {
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    } else if (c1 || bidi) {
      const size_t len = c1 ? 2 : 3;
      for (size_t k = 0; k < len; ++k) {
        std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<uint8_t>(s[i + k]));
        out += hex;
      }
      i += len - 1;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// The profile to join with: opened if one exists, else created as `satchel init` creates it.
Result<client::Profile> open_or_create(const InitArgs& init, bool& created) {
  const std::string home = profile_home();
  created = !std::filesystem::exists(client::keyslots_path(home));
  if (!created) return open_profile();
  std::cout << "No profile in " << home << " yet: creating one for this device.\n";
  if (auto w = swap_warning()) std::cerr << *w << "\n";
  auto pass = new_passphrase(init.allow_weak);
  if (!pass) return pass.error();
  const client::Argon2Params params = argon2_params(init);
  auto info = client::Profile::create(home, *pass, params);
  if (!info) return info.error();
  return client::Profile::open(home, *pass);
}

const char* step_text(client::JoinStep step) {
  switch (step) {
    case client::JoinStep::kTrusted:
      return "organisation key and roster trusted";
    case client::JoinStep::kRedeemed:
      return "relay code redeemed; token stored";
    case client::JoinStep::kDocumentsFetched:
      return "published rosters and forms fetched";
    case client::JoinStep::kHelloQueued:
      return "hello for the coordinators queued";
  }
  return "";
}

int join(const JoinArgs& a) {
  const bool from_terminal = a.invite_file.empty() && ::isatty(STDIN_FILENO) == 1;
  if (from_terminal) client::write_to_terminal("Paste the invite (INV1-...) and press Enter:\n");
  auto text = a.invite_file.empty() ? read_invite(STDIN_FILENO, from_terminal)
                                    : read_invite_file(a.invite_file);
  if (!text) return fail(text.error());
  auto parsed = UnconfirmedInvite::parse(text->span());
  if (!parsed) return fail("the invite", parsed.error());

  // D11: the fingerprint, not the name, is what is confirmed.
  std::cout << "The invite says it is from: " << visible(parsed->claimed_org_name())
            << "  (the invite's claim, not verified)\n"
            << "Organisation fingerprint:   " << parsed->fingerprint() << "\n"
            << "Compare every digit with the fingerprint your coordinator gives you in person "
               "or by phone, not with one sent along with the invite.\n";
  std::string typed = a.confirm;
  if (typed.empty()) {
    auto line = ask_terminal("Type the organisation fingerprint to confirm: ");
    if (!line) return fail(line.error());
    typed = *line;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto confirmed = std::move(parsed.value()).confirm(typed, now);
  if (!confirmed) {
    if (confirmed.code() == Errc::kDocNotConfirmed)
      return fail(make_error(Errc::kDocNotConfirmed,
                             "the fingerprint typed is not the invite's: nothing was changed. If "
                             "your coordinator's fingerprint differs, do not use this invite"));
    return fail("the invite", confirmed.error());
  }
  if (Status s = client::check_device_label(*confirmed, a.label); !s)
    return fail("--label", s.error());

  bool created = false;
  auto profile = open_or_create(a.init, created);
  if (!profile) return fail(profile.error());
  client::JoinOptions options;
  options.now = now;
  auto proxy = profile->setting("sync.proxy");
  if (!proxy) return fail(proxy.error());
  if (*proxy && !(*proxy)->empty()) {
    auto p = client::parse_proxy_address(**proxy);
    if (!p) return fail(p.error());
    options.relay.proxy = *p;
  }
  options.on_step = [](client::JoinStep step) {
    std::cerr << "satchel: " << step_text(step) << "\n";
    return Status::Ok();
  };
  auto report = client::join_with_invite(*profile, *confirmed, a.label, options);
  if (!report) {
    fail(report.error());
    if (!a.invite_file.empty())
      std::cerr << "satchel: " << a.invite_file
                << " holds a secret (the relay code and the organisation's publication key)\n";
    return kExitFailed;
  }

  for (const std::string& p : report->problems) std::cerr << "satchel: warning: " << p << "\n";
  std::cout << (report->resumed ? "join resumed and finished: " : "joined ")
            << visible(confirmed->roster().org_name) << "\n"
            << "relay: " << report->relay_url << " (token id " << report->token_id << ")\n"
            << "roster version " << report->roster_version << "\n";
  for (const std::string& f : report->forms_added) std::cout << "form added: " << f << "\n";
  if (!report->forms_missing.empty()) {
    std::cerr << "satchel: warning: forms the invite names are not on this device yet:";
    for (const std::string& f : report->forms_missing) std::cerr << " " << f << ";";
    std::cerr << " run `satchel join` again with the same invite, while it is valid, to fetch "
                 "them once your coordinator has published them\n";
  }
  std::cout << (report->hello_queued ? "hello queued for your coordinators\n"
                                     : "hello already queued by an earlier run\n")
            << "device fingerprint: " << report->device_fingerprint << "\n"
            << "Next steps:\n"
            << "  1. `satchel sync` sends the hello to your coordinators (and later your "
               "records).\n"
            << "  2. Optionally read the device fingerprint above to a coordinator in person, so "
               "they know the device that said hello is yours.\n";
  if (!a.invite_file.empty())
    std::cout << "  3. " << a.invite_file
              << " still holds a secret (the organisation's publication key): delete it.\n";
  return kExitOk;
}

}  // namespace

void add_join_command(CLI::App& app, Action& action) {
  auto ja = std::make_shared<JoinArgs>();
  auto* j = app.add_subcommand(
      "join", "Join an organisation with an invite (read from standard input or a file)");
  j->add_option("--invite-file", ja->invite_file, "read the invite from this file, not stdin");
  j->add_option("--label", ja->label, "a name for this device, shown to coordinators (1..64 bytes)")
      ->required();
  j->add_option("--confirm", ja->confirm,
                "the organisation fingerprint, for scripts (otherwise typed on the terminal)");
  j->add_flag("--allow-weak", ja->init.allow_weak,
              "for a new profile: accept a passphrase zxcvbn rates under 50 bits");
  j->add_option("--kdf-passes", ja->init.kdf_passes, "for a new profile: Argon2id passes");
  j->add_option("--kdf-memory", ja->init.kdf_memory_mib,
                "for a new profile: Argon2id memory in MiB");
  j->callback([&action, ja] { action = [ja] { return join(*ja); }; });
}

}  // namespace satchel::cli
