// `satchel coord invite` (mints an invite and shows it as a QR code and text on the terminal's
// alternate screen, or writes it to a new file on request) and `satchel coord publish DIR`
// (puts the organisation's signed roster and forms on the relay for devices).
#include <fcntl.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "cli/cli_coord.h"
#include "cli/cli_session.h"
#include "satchel/client/qr_code.h"
#include "satchel/client/trust_store.h"
#include "satchel/coord/invite_minting.h"
#include "satchel/coord/publication.h"

namespace satchel::cli {
namespace {

constexpr const char* kSecretWarning =
    "THIS INVITE IS A SECRET. Whoever holds it can join your organisation as a device until its "
    "relay code is used or expires. Show it only to the advocate it is for; do not photograph, "
    "send or print it.";

struct InviteArgs {
  int hours = 0;
  size_t relay = 0;
  std::string proxy, png, out;
};

// Writes the invite text to a new file (0600, created exclusively, never through a symlink).
Status write_invite_file(const std::string& path, const SecretBytes& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(errno == EEXIST ? Errc::kAlreadyExists : Errc::kIoError,
                      "cannot create " + path + ": " + std::strerror(errno) +
                          (errno == EEXIST ? " (never overwritten)" : ""));
  size_t done = 0;
  bool ok = true;
  while (ok && done < text.size()) {
    ssize_t w = ::write(fd, text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    if (ok) done += static_cast<size_t>(w);
  }
  ok = ok && ::write(fd, "\n", 1) == 1 && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return make_error(Errc::kIoError, "cannot write " + path + ": " + std::strerror(saved));
  }
  return Status::Ok();
}

std::string day_of(int64_t t) {
  char buf[32];
  const time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

Result<client::RelayClientOptions> relay_options(const std::string& proxy) {
  client::RelayClientOptions o;
  if (!proxy.empty()) {
    auto p = client::parse_proxy_address(proxy);
    if (!p) return p.error();
    o.proxy = *p;
  }
  return o;
}

// Whether the QR code can be shown: /dev/tty opens as a terminal only in a process that has a
// controlling terminal (the file itself is readable and writable everywhere, so access() says
// nothing), and showing it is what fails otherwise, after the invite was minted.
bool terminal_to_show_on() {
  const int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return false;
  termios mode{};
  const bool ok = ::tcgetattr(fd, &mode) == 0;
  ::close(fd);
  return ok;
}

int invite(const InviteArgs& a) {
  // Where the invite goes is checked before anything is minted.
  for (const std::string* path : {&a.png, &a.out})
    if (!path->empty() && ::access(path->c_str(), F_OK) == 0)
      return fail(*path + " already exists (never overwritten)");
  if (a.out.empty() && a.png.empty() && !terminal_to_show_on())
    return fail("no terminal to show the invite on: give -o FILE (or --png FILE)");
  auto profile = open_profile(client::ProfileKind::kCoordinator);
  if (!profile) return fail(profile.error());
  coord::InviteRequest r;
  r.relay_index = a.relay;
  r.hours = a.hours;
  r.now = static_cast<int64_t>(std::time(nullptr));
  auto o = relay_options(a.proxy);
  if (!o) return fail(o.error());
  r.relay = *o;
  auto issued = coord::issue_invite(*profile, r);
  if (!issued) return fail(issued.error());
  const std::string_view text(reinterpret_cast<const char*>(issued->text.data()),
                              issued->text.size());
  const std::string id = to_hex(ByteView(issued->id.data(), 4));
  std::cout << "invite " << id << "… minted (relay token id "
            << to_hex(ByteView(issued->token_id.data(), issued->token_id.size()))
            << "); its relay code expires " << day_of(issued->code_expires_at) << ", the invite "
            << day_of(issued->expires_at) << "\n";
  if (!a.out.empty()) {
    if (Status s = write_invite_file(a.out, issued->text); !s) return fail(s.error());
    std::cerr << kSecretWarning << "\nThe invite is in " << a.out
              << " (mode 0600): delete it once the device has joined.\n";
  }
  if (!a.out.empty() && a.png.empty()) return kExitOk;
  auto qr = client::encode_qr(text);
  if (!qr) return fail(qr.error());
  if (!a.png.empty()) {
    if (Status s = client::write_png(*qr, a.png, 8); !s) return fail(s.error());
    std::cerr << kSecretWarning << "\nThe QR code is in " << a.png
              << " (mode 0600): delete it once the device has joined.\n";
    return kExitOk;
  }
  if (Status s = client::show_on_alternate_screen(kSecretWarning, text, *qr); !s)
    return fail(s.error());
  return kExitOk;
}

struct PublishArgs {
  std::string dir, proxy;
  size_t relay = 0;
};

int publish(const PublishArgs& a) {
  auto profile = open_profile(client::ProfileKind::kCoordinator);
  if (!profile) return fail(profile.error());
  coord::PublishRequest r;
  r.dir = a.dir;
  r.relay_index = a.relay;
  r.now = static_cast<int64_t>(std::time(nullptr));
  auto o = relay_options(a.proxy);
  if (!o) return fail(o.error());
  r.relay = *o;
  auto s = coord::publish_directory(*profile, r);
  if (!s) return fail(s.error());
  std::cout << "published roster version " << s->roster_version << " and " << s->form_numbers.size()
            << " form package(s)";
  if (!s->form_numbers.empty()) {
    std::cout << " (numbers";
    for (uint64_t n : s->form_numbers) std::cout << " " << n;
    std::cout << ")";
  }
  std::cout << "\n";
  if (s->registration_updated)
    std::cout << "the relay now holds registration version " << s->registration_version
              << ": coordinators it no longer lists cannot open sessions there\n";
  else if (s->registration_version)
    std::cout << "the relay already held registration version " << s->registration_version
              << " or a newer one\n";
  // A coordinator's own roster decides its relay pins: the other coordinators take it too.
  if (s->roster_taken)
    std::cout << "this coordinator now holds roster version " << s->roster_version
              << "; every other coordinator takes it with `satchel coord roster add "
              << (std::filesystem::path(a.dir) / "roster.txt").string() << "`\n";
  return kExitOk;
}

}  // namespace

void add_coord_invite_commands(CLI::App& coord, Action& action) {
  auto ia = std::make_shared<InviteArgs>();
  auto* i = coord.add_subcommand(
      "invite",
      "Mint an invite for one new device and show it as a QR code (a secret: shown on the "
      "terminal's alternate screen, not kept in scrollback)");
  i->add_option("--hours", ia->hours, "hours the relay code stays valid (1-72; default: relay's)")
      ->check(CLI::Range(1, 72));
  i->add_option("--relay", ia->relay, "which relay of the roster (counts from 0)");
  i->add_option("--proxy", ia->proxy, "SOCKS5 proxy HOST:PORT (Tor)");
  i->add_option("--png", ia->png, "also write the QR code to this new PNG file (mode 0600)");
  i->add_option("-o,--output", ia->out,
                "write the invite text to this new file (mode 0600) instead of the screen");
  i->callback([&action, ia] { action = [ia] { return invite(*ia); }; });

  auto pa = std::make_shared<PublishArgs>();
  auto* p = coord.add_subcommand(
      "publish",
      "Publish the organisation's roster and forms (from `satchel org publish -o DIR`) "
      "on the relay for devices, encrypted under the publication key");
  p->add_option("DIR", pa->dir, "folder written by `satchel org publish`")->required();
  p->add_option("--relay", pa->relay, "which relay of the roster (counts from 0)");
  p->add_option("--proxy", pa->proxy, "SOCKS5 proxy HOST:PORT (Tor)");
  p->callback([&action, pa] { action = [pa] { return publish(*pa); }; });
}

}  // namespace satchel::cli
