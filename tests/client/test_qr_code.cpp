// An invite's QR code (client/qr_code.h): what the terminal shows decodes back to the same invite.
// The half-block rendering is parsed back into modules here, written as a PNG and decoded by an
// independent reader, zbarimg (Debian zbar-tools). The alternate screen runs on a pseudo-terminal.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "satchel/client/qr_code.h"

using namespace satchel;
using namespace satchel::client;

namespace {

// Invite sizes, from schema/trust-documents.md, "QR size budget". Typical: a 3-coordinator,
// 1-relay, 2-form invite is 1,269 characters there, and the invite grows by about 245 characters
// (153 bytes), so about 1,500. Largest: every field at its maximum is 2,265 characters, 2,510 with
// that growth; 2,600 leaves a margin.
constexpr size_t kTypicalInvite = 1500;
constexpr size_t kLargestInvite = 2600;

// "INV1-" and upper-case base32 up to `length` characters: an invite's alphabet and length.
std::string invite_like(size_t length, unsigned seed) {
  static constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::mt19937 random(seed);
  std::string text = "INV1-";
  while (text.size() < length) text += kBase32[random() % 32];
  return text;
}

struct TempDir {
  std::string path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "satchel-qr-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// The modules a half-block rendering shows, quiet zone included, one vector<bool> a module row:
// the test's own reader of the format render_half_blocks documents.
std::vector<std::vector<bool>> parse_half_blocks(const std::string& rendering) {
  std::vector<std::vector<bool>> modules;
  std::istringstream lines(rendering);
  std::string line;
  while (std::getline(lines, line)) {
    const std::string start = "\x1b[30;107m", end = "\x1b[0m";
    REQUIRE(line.rfind(start, 0) == 0);
    REQUIRE(line.size() >= start.size() + end.size());
    REQUIRE(line.compare(line.size() - end.size(), end.size(), end) == 0);
    const std::string cells = line.substr(start.size(), line.size() - start.size() - end.size());
    std::vector<bool> upper, lower;
    for (size_t i = 0; i < cells.size();) {
      if (cells[i] == ' ') {
        upper.push_back(false), lower.push_back(false), i += 1;
        continue;
      }
      const std::string glyph = cells.substr(i, 3);
      if (glyph == "\u2580") {
        upper.push_back(true), lower.push_back(false);
      } else if (glyph == "\u2584") {
        upper.push_back(false), lower.push_back(true);
      } else if (glyph == "\u2588") {
        upper.push_back(true), lower.push_back(true);
      } else {
        FAIL("unexpected character in the rendering at byte " << i);
      }
      i += 3;
    }
    modules.push_back(upper);
    modules.push_back(lower);
  }
  return modules;
}

// The code inside the parsed modules, after checking the quiet zone (and the half row below an
// odd count) is light on every side.
QrCode code_inside(const std::vector<std::vector<bool>>& modules) {
  const int side = static_cast<int>(modules.front().size());
  const int size = side - 2 * kQrQuietZone;
  REQUIRE(static_cast<int>(modules.size()) == side + 1);  // side is odd: one light half row more
  std::vector<uint8_t> dark;
  for (int y = 0; y <= side; ++y) {
    REQUIRE(static_cast<int>(modules[static_cast<size_t>(y)].size()) == side);
    for (int x = 0; x < side; ++x) {
      const bool inside = x >= kQrQuietZone && y >= kQrQuietZone && x < kQrQuietZone + size &&
                          y < kQrQuietZone + size;
      const bool is_dark = modules[static_cast<size_t>(y)][static_cast<size_t>(x)];
      if (inside) {
        dark.push_back(is_dark ? 1 : 0);
      } else if (is_dark) {
        FAIL("a dark module in the quiet zone at column " << x << ", row " << y);
      }
    }
  }
  auto code = QrCode::from_modules(size, std::move(dark));
  REQUIRE(code.ok());
  return std::move(code.value());
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// zbarimg's reading of the PNG at path, without the newline it ends with ("" when it finds none).
std::string zbar_decode(const std::string& png) {
  FILE* out = ::popen(("zbarimg --raw -q --nodbus '" + png + "'").c_str(), "r");
  REQUIRE(out != nullptr);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, out)) > 0) text.append(buf, n);
  const int status = ::pclose(out);
  INFO("zbarimg exit status " << status);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// Renders the invite's code as the terminal would show it, reads the modules back from the
// characters, writes them as a PNG (mode 0600) and checks zbarimg decodes the invite from it.
void check_rendering_decodes(size_t length, unsigned seed, int expected_version) {
  if (!on_path("zbarimg")) {
    SKIP("zbarimg is not installed (Debian zbar-tools; scripts/setup.sh installs it)");
  }
  const std::string invite = invite_like(length, seed);
  auto code = encode_qr(invite);
  REQUIRE(code.ok());
  INFO(length << " characters: version " << code->version());
  CHECK(code->version() == expected_version);  // the figures in qr_code.h
  const std::string rendering = render_half_blocks(*code);
  const auto modules = parse_half_blocks(rendering);
  const CellExtent extent = half_block_extent(*code);
  CHECK(extent.columns == code->size() + 8);
  CHECK(extent.rows == (code->size() + 9) / 2);
  CHECK(static_cast<int>(modules.size()) == 2 * extent.rows);
  CHECK(static_cast<int>(modules.front().size()) == extent.columns);
  const QrCode read_back = code_inside(modules);

  TempDir dir;
  const std::string png = dir.path + "/invite.png";
  REQUIRE(write_png(read_back, png, 4).ok());
  struct stat st {};
  REQUIRE(::stat(png.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(zbar_decode(png) == invite);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// What a child drew on a pseudo-terminal of cols x rows while showing `invite`'s code, and how it
// ended. `act` sees the output so far and may write keys to the terminal or signal the child; it
// returns true when it has nothing more to do.
struct PtyRun {
  std::string output;
  int status = 0;
};

template <class Act>
PtyRun run_on_pty(const std::string& invite, unsigned short cols, unsigned short rows, Act act) {
  auto code = encode_qr(invite);
  REQUIRE(code.ok());
  winsize ws{};
  ws.ws_col = cols;
  ws.ws_row = rows;
  int master = -1;
  const pid_t child = ::forkpty(&master, nullptr, nullptr, &ws);
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child: the pseudo-terminal is its controlling terminal. Default dispositions, not the
    // test framework's handlers; the result goes to the terminal after the display.
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) std::signal(sig, SIG_DFL);
    termios before{}, after{};
    ::tcgetattr(0, &before);
    const Status shown = show_on_alternate_screen(
        "WARNING: this invite is a secret. Show it only to the device it is for.", invite, *code);
    ::tcgetattr(0, &after);
    const bool restored = before.c_lflag == after.c_lflag && before.c_iflag == after.c_iflag;
    const std::string result = std::string("\nRESULT:") +
                               (shown.ok() ? "ok" : shown.error().message) +
                               (restored ? " mode-restored" : " mode-changed") + "\n";
    (void)!::write(1, result.data(), result.size());
    ::_exit(0);
  }
  PtyRun run;
  bool done = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    pollfd p{master, POLLIN, 0};
    if (std::chrono::steady_clock::now() > deadline) break;
    if (::poll(&p, 1, 100) < 0) break;
    if (p.revents & (POLLIN | POLLHUP)) {
      char buf[8192];
      const ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) break;  // EIO: the child is gone
      run.output.append(buf, static_cast<size_t>(n));
    }
    if (!done) done = act(run.output, master, child);
  }
  ::kill(child, SIGKILL);  // only if it is still there past the deadline
  ::waitpid(child, &run.status, 0);
  ::close(master);
  return run;
}

void press_key(int master) {
  REQUIRE(::write(master, "x", 1) == 1);
}

// The terminal's output with each "\n" as the terminal's line discipline sends it ("\r\n").
std::string as_sent(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '\n' ? std::string("\r\n") : std::string(1, c);
  return out;
}

}  // namespace

TEST_CASE("the half-block rendering of a typical invite decodes back to the same text with zbarimg",
          "[qr]") {
  check_rendering_decodes(kTypicalInvite, 1, 26);
}

TEST_CASE(
    "the half-block rendering of the largest invite decodes back to the same text with zbarimg",
    "[qr]") {
  check_rendering_decodes(kLargestInvite, 2, 35);
}

TEST_CASE("write_png refuses an existing file or symlink and leaves it unchanged", "[qr]") {
  auto code = encode_qr(invite_like(kTypicalInvite, 3));
  REQUIRE(code.ok());
  TempDir dir;
  const std::string existing = dir.path + "/existing.png";
  { std::ofstream(existing) << "an earlier file"; }
  Status refused = write_png(*code, existing, 4);
  REQUIRE(refused.code() == Errc::kAlreadyExists);
  CHECK(refused.error().message.find(existing) != std::string::npos);
  CHECK(read_file(existing) == "an earlier file");

  const std::string link = dir.path + "/link.png", target = dir.path + "/target.png";
  REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
  CHECK(write_png(*code, link, 4).code() == Errc::kAlreadyExists);
  CHECK(!std::filesystem::exists(target));

  const std::string in_missing_dir = dir.path + "/no/such/dir.png";
  CHECK(write_png(*code, in_missing_dir, 4).code() == Errc::kIoError);
  CHECK(write_png(*code, dir.path + "/scale0.png", 0).code() == Errc::kInvalidArgument);
  CHECK(!std::filesystem::exists(dir.path + "/scale0.png"));
}

TEST_CASE("encode_qr refuses text longer than version 40 holds, naming the length", "[qr]") {
  // Version 40 at level L holds 4,296 alphanumerics: the limit is exact, not a guess.
  auto largest = encode_qr(invite_like(4296, 4));
  REQUIRE(largest.ok());
  CHECK(largest->version() == 40);
  auto too_long = encode_qr(invite_like(4297, 4));
  REQUIRE(too_long.code() == Errc::kInvalidArgument);
  CHECK(too_long.error().message.find("4297 characters") != std::string::npos);
  CHECK(encode_qr("").code() == Errc::kInvalidArgument);
  CHECK(encode_qr(std::string("INV1-A\0B", 8)).code() == Errc::kInvalidArgument);
}

TEST_CASE("QrCode::from_modules accepts only QR symbol sizes with one entry a module", "[qr]") {
  CHECK(QrCode::from_modules(21, std::vector<uint8_t>(21 * 21)).ok());
  CHECK(QrCode::from_modules(177, std::vector<uint8_t>(177 * 177)).ok());
  CHECK(QrCode::from_modules(22, std::vector<uint8_t>(22 * 22)).code() == Errc::kInvalidArgument);
  CHECK(QrCode::from_modules(181, std::vector<uint8_t>(181 * 181)).code() ==
        Errc::kInvalidArgument);
  CHECK(QrCode::from_modules(21, std::vector<uint8_t>(21 * 20)).code() == Errc::kInvalidArgument);
}

TEST_CASE(
    "the alternate screen shows the warning, the code and the invite until a key, then clears "
    "and leaves it with the terminal mode restored",
    "[qr][tty]") {
  const std::string invite = invite_like(kTypicalInvite, 5);
  auto code = encode_qr(invite);
  REQUIRE(code.ok());
  PtyRun run = run_on_pty(invite, 200, 100, [](const std::string& out, int master, pid_t) {
    if (out.find("Press any key to clear the screen.") == std::string::npos) return false;
    press_key(master);
    return true;
  });
  REQUIRE(WIFEXITED(run.status));
  const size_t enter = run.output.find("\x1b[?1049h");
  const size_t leave = run.output.find("\x1b[?1049l");
  REQUIRE(enter != std::string::npos);
  REQUIRE(leave != std::string::npos);
  const size_t warning = run.output.find("WARNING: this invite is a secret.");
  const size_t qr = run.output.find(as_sent(render_half_blocks(*code)));
  const size_t text = run.output.find(invite);
  CHECK((enter < warning && warning < qr && qr < text && text < leave));
  // After leaving: the screen was cleared first, and nothing of the invite follows.
  const size_t clear = run.output.rfind("\x1b[2J", leave);
  CHECK((clear != std::string::npos && clear > text));
  const std::string after = run.output.substr(leave);
  CHECK(after.find("INV1-") == std::string::npos);
  CHECK(after.find("RESULT:ok mode-restored") != std::string::npos);
}

TEST_CASE(
    "a terminal too small for the code is told the size it needs, and the code appears once "
    "the terminal is enlarged",
    "[qr][tty]") {
  const std::string invite = invite_like(kTypicalInvite, 6);
  SECTION("enlarged") {
    bool resized = false;
    PtyRun run = run_on_pty(invite, 80, 24, [&](const std::string& out, int master, pid_t) {
      if (!resized && out.find("the QR code needs 129 x") != std::string::npos) {
        winsize ws{};
        ws.ws_col = 200;
        ws.ws_row = 100;
        REQUIRE(::ioctl(master, TIOCSWINSZ, &ws) == 0);  // SIGWINCH to the child
        resized = true;
      }
      if (out.find("Press any key to clear the screen.") == std::string::npos) return false;
      press_key(master);
      return true;
    });
    CHECK(resized);
    CHECK(run.output.find("RESULT:ok mode-restored") != std::string::npos);
  }
  SECTION("left before it fits") {
    PtyRun run = run_on_pty(invite, 80, 24, [](const std::string& out, int master, pid_t) {
      if (out.find("Press any key to leave without it.") == std::string::npos) return false;
      press_key(master);
      return true;
    });
    CHECK(run.output.find("\u2588") == std::string::npos);
    CHECK(run.output.find(invite) == std::string::npos);
    CHECK(run.output.find("RESULT:the terminal (80 columns x 24 rows) was too small for the QR "
                          "code: it needs 129 x") != std::string::npos);
  }
}

TEST_CASE("a SIGTERM while the code is shown restores the terminal before the process ends",
          "[qr][tty]") {
  const std::string invite = invite_like(kTypicalInvite, 7);
  PtyRun run = run_on_pty(invite, 200, 100, [](const std::string& out, int, pid_t child) {
    if (out.find("Press any key to clear the screen.") == std::string::npos) return false;
    ::kill(child, SIGTERM);
    return true;
  });
  REQUIRE(WIFSIGNALED(run.status));
  CHECK(WTERMSIG(run.status) == SIGTERM);
  const size_t text = run.output.find(invite);
  const size_t leave = run.output.find("\x1b[?1049l");
  REQUIRE(text != std::string::npos);
  REQUIRE(leave != std::string::npos);
  CHECK(text < leave);
  CHECK(run.output.find("RESULT:") == std::string::npos);
}

TEST_CASE("show_on_alternate_screen refuses without a controlling terminal", "[qr][tty]") {
  auto code = encode_qr(invite_like(kTypicalInvite, 8));
  REQUIRE(code.ok());
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::setsid();  // a new session has no controlling terminal
    const Status shown = show_on_alternate_screen("warning", "INV1-A", *code);
    const bool refused = shown.code() == Errc::kIoError &&
                         shown.error().message.find("no terminal") != std::string::npos;
    ::_exit(refused ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}
