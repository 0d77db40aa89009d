// show_on_alternate_screen: a QR code on the terminal's alternate screen until one key is pressed.
// A small session of its own rather than questionnaire/TerminalSession, which lives in the satchel
// executable (not in this library), reads whole lines rather than one key, and is worded for the
// questionnaire. The escape sequences and the restore order are the same.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>

#include "satchel/client/qr_code.h"
#include "satchel/crypto/secret.h"

namespace satchel::client {
namespace {

// Signals that end the display; delivered as usual once the terminal is restored.
constexpr int kLeaveSignals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM};

constexpr std::string_view kEnter = "\x1b[?1049h\x1b[?25l";  // alternate screen, cursor hidden
constexpr std::string_view kClear = "\x1b[H\x1b[2J\x1b[3J";  // also what the screen kept above
constexpr std::string_view kLeave = "\x1b[?25h\x1b[?1049l";

// A string holding the code or the invite, wiped when the scope ends. Users wipe before clear().
class WipedString {
 public:
  std::string text;
  ~WipedString() { wipe(text.data(), text.size()); }
};

enum class Wake { kKey, kResize, kSignal, kClosed };

// The controlling terminal in raw mode on the alternate screen, with the leave signals and SIGWINCH
// blocked and read through signalfds. The destructor clears the screen, leaves it, and restores the
// terminal mode and the signal mask (a pending leave signal is delivered then), in that order.
class ScreenSession {
 public:
  ScreenSession() = default;
  ScreenSession(const ScreenSession&) = delete;
  ScreenSession& operator=(const ScreenSession&) = delete;
  ~ScreenSession();

  // Opens /dev/tty, switches it to raw input (typed-ahead input is dropped) and to the alternate
  // screen. Fails (kIoError) without a controlling terminal.
  Status open();
  // Writes to the terminal; a terminal that went away is not an error here (wait() reports it).
  void write(std::string_view text);
  // The terminal's size, 80 x 24 when it does not tell.
  winsize size() const;
  // Blocks until a key (its bytes are read and dropped), a resize, a leave signal or a hang-up.
  Wake wait();

 private:
  void block_signals();

  int fd_ = -1;
  int winch_fd_ = -1;
  int leave_fd_ = -1;
  termios saved_mode_{};
  sigset_t saved_mask_{};
  bool mode_saved_ = false;
  bool mask_saved_ = false;
  bool on_alternate_screen_ = false;
};

Status ScreenSession::open() {
  fd_ = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd_ < 0) {
    return make_error(
        Errc::kIoError,
        std::string("no terminal to show the QR code on (/dev/tty: ") + std::strerror(errno) + ")");
  }
  if (::tcgetattr(fd_, &saved_mode_) != 0) {
    return make_error(Errc::kIoError,
                      std::string("/dev/tty is not a usable terminal: ") + std::strerror(errno));
  }
  block_signals();
  termios raw = saved_mode_;
  // No ISIG: Ctrl-C, Ctrl-Z and Ctrl-\ are keys that end the display, never a stop or a kill that
  // would leave the code on the screen and the terminal raw.
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ECHONL | IEXTEN | ISIG);
  raw.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
  raw.c_oflag |= OPOST | ONLCR;
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (::tcsetattr(fd_, TCSAFLUSH, &raw) != 0) {
    return make_error(Errc::kIoError,
                      std::string("cannot set the terminal mode: ") + std::strerror(errno));
  }
  mode_saved_ = true;
  write(kEnter);
  on_alternate_screen_ = true;
  return Status::Ok();
}

void ScreenSession::block_signals() {
  sigset_t leave, winch, both;
  sigemptyset(&leave);
  sigemptyset(&winch);
  sigemptyset(&both);
  if (::pthread_sigmask(SIG_SETMASK, nullptr, &saved_mask_) != 0) return;
  // Signals the caller blocks or ignores stay as they are.
  for (int sig : kLeaveSignals) {
    struct sigaction action {};
    ::sigaction(sig, nullptr, &action);
    if (sigismember(&saved_mask_, sig) == 0 && action.sa_handler != SIG_IGN) {
      sigaddset(&leave, sig);
      sigaddset(&both, sig);
    }
  }
  if (sigismember(&saved_mask_, SIGWINCH) == 0) {
    sigaddset(&winch, SIGWINCH);
    sigaddset(&both, SIGWINCH);
  }
  if (::pthread_sigmask(SIG_BLOCK, &both, nullptr) != 0) return;
  mask_saved_ = true;
  // Without a signalfd a leave signal waits for the key, and a resize is not redrawn.
  leave_fd_ = ::signalfd(-1, &leave, SFD_CLOEXEC | SFD_NONBLOCK);
  winch_fd_ = ::signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK);
}

ScreenSession::~ScreenSession() {
  if (on_alternate_screen_) {
    write(kClear);
    write(kLeave);
  }
  if (mode_saved_) ::tcsetattr(fd_, TCSADRAIN, &saved_mode_);
  if (leave_fd_ >= 0) ::close(leave_fd_);
  if (winch_fd_ >= 0) ::close(winch_fd_);
  if (mask_saved_) ::pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr);
  if (fd_ >= 0) ::close(fd_);
}

void ScreenSession::write(std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

winsize ScreenSession::size() const {
  winsize ws{};
  if (::ioctl(fd_, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 || ws.ws_row == 0) {
    ws.ws_col = 80;
    ws.ws_row = 24;
  }
  return ws;
}

Wake ScreenSession::wait() {
  for (;;) {
    pollfd fds[3] = {{fd_, POLLIN, 0}, {winch_fd_, POLLIN, 0}, {leave_fd_, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return Wake::kClosed;
    }
    // The leave signal is not read: it stays pending until the destructor unblocks it.
    if (fds[2].revents & POLLIN) return Wake::kSignal;
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info;
      while (::read(winch_fd_, &info, sizeof info) > 0) {
      }
      return Wake::kResize;
    }
    if (fds[0].revents & POLLIN) {
      char bytes[64];  // a whole escape sequence (an arrow key) at once
      const ssize_t n = ::read(fd_, bytes, sizeof bytes);
      wipe(bytes, sizeof bytes);
      if (n > 0) {
        ::tcflush(fd_, TCIFLUSH);
        return Wake::kKey;
      }
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      return Wake::kClosed;
    }
    if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) return Wake::kClosed;
  }
}

// Terminal rows `text` takes at `columns` a row, one column a code point, each line at least one.
int rows_for(std::string_view text, int columns) {
  int rows = 0;
  size_t start = 0;
  for (;;) {
    const size_t end = std::min(text.find('\n', start), text.size());
    int points = 0;
    for (size_t i = start; i < end; ++i)
      points += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    rows += points == 0 ? 1 : (points + columns - 1) / columns;
    if (end == text.size()) return rows;
    start = end + 1;
  }
}

std::string_view without_final_newlines(std::string_view text) {
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return text;
}

constexpr std::string_view kPrompt = "Press any key to clear the screen.";
constexpr std::string_view kPromptNoText =
    "Press any key to clear the screen. (The invite text is left out: the terminal is too short.)";

struct Layout {
  bool shows_code = false;
  int needed_columns = 0;
  int needed_rows = 0;  // warning, code and a one-line prompt
};

// One screen for the terminal's size, replacing `screen` (wiped first): warning, code, the text
// when it fits too, prompt; or, when the code does not fit, the warning and the size it needs.
Layout compose(std::string& screen, std::string_view warning, std::string_view text,
               const std::string& code, CellExtent code_extent, winsize ws) {
  const int columns = ws.ws_col;
  const int rows = ws.ws_row;
  warning = without_final_newlines(warning);
  text = without_final_newlines(text);
  const int base_rows = rows_for(warning, columns) + code_extent.rows;
  Layout layout;
  layout.needed_columns = code_extent.columns;
  layout.needed_rows = base_rows + 1;
  layout.shows_code =
      columns >= code_extent.columns && base_rows + rows_for(kPromptNoText, columns) <= rows;
  wipe(screen.data(), screen.size());
  screen.clear();
  screen += kClear;
  screen += warning;
  screen += '\n';
  if (!layout.shows_code) {
    screen += "\nThis terminal is " + std::to_string(columns) + " columns x " +
              std::to_string(rows) + " rows; the QR code needs " +
              std::to_string(layout.needed_columns) + " x " + std::to_string(layout.needed_rows) +
              ". Enlarge the window or make the font smaller (often Ctrl and -): the code appears "
              "as soon as it fits.\nPress any key to leave without it.";
    return layout;
  }
  screen += code;
  const bool shows_text = base_rows + rows_for(text, columns) + rows_for(kPrompt, columns) <= rows;
  if (shows_text) {
    screen += text;
    screen += '\n';
  }
  screen += shows_text ? kPrompt : kPromptNoText;
  return layout;
}

}  // namespace

Status show_on_alternate_screen(std::string_view warning, std::string_view invite_text,
                                const QrCode& qr) {
  WipedString code;
  code.text = render_half_blocks(qr);
  const CellExtent extent = half_block_extent(qr);
  WipedString screen;
  // Reserved once: a reallocation would leave an unwiped copy of the code or the text behind.
  screen.text.reserve(code.text.size() + warning.size() + invite_text.size() + 1024);
  bool ever_shown = false;
  winsize ws{};
  Layout layout;
  Wake wake = Wake::kClosed;
  {
    ScreenSession session;
    SATCHEL_TRY(session.open());
    for (;;) {
      ws = session.size();
      layout = compose(screen.text, warning, invite_text, code.text, extent, ws);
      ever_shown = ever_shown || layout.shows_code;
      session.write(screen.text);
      wake = session.wait();
      if (wake != Wake::kResize) break;
    }
  }  // the screen is cleared and left, the terminal restored, a pending signal delivered
  switch (wake) {
    case Wake::kKey:
      if (ever_shown) return Status::Ok();
      return make_error(Errc::kIoError, "the terminal (" + std::to_string(ws.ws_col) +
                                            " columns x " + std::to_string(ws.ws_row) +
                                            " rows) was too small for the QR code: it needs " +
                                            std::to_string(layout.needed_columns) + " x " +
                                            std::to_string(layout.needed_rows));
    case Wake::kSignal:
      return make_error(Errc::kIoError, "the QR code's display was ended by a signal");
    case Wake::kResize:
    case Wake::kClosed:
      break;
  }
  return make_error(Errc::kIoError, "the terminal went away while showing the QR code");
}

}  // namespace satchel::client
