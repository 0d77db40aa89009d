// TerminalSession: raw-ish /dev/tty input with our own echo, the alternate screen, and signals
// that end the session cleanly instead of killing the process with the terminal left in raw mode.
#include "questionnaire/questionnaire_terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "satchel/crypto/secret.h"
#include "satchel/form/form.h"

namespace satchel::cli {
namespace {

// One line may hold a whole long_text paragraph pasted at once.
constexpr size_t kMaxLineBytes = form::kMaxLongTextAnswerBytes;
constexpr int kLeaveSignals[] = {SIGINT, SIGTERM, SIGHUP};

volatile std::sig_atomic_t g_leave_signal = 0;

extern "C" void on_leave_signal(int signo) {
  g_leave_signal = signo;
}

}  // namespace

struct TerminalSession::Saved {
  termios mode{};
  struct sigaction actions[std::size(kLeaveSignals)]{};
  sigset_t mask{};       // the mask before the session
  sigset_t wait_mask{};  // that mask without the leave signals: used only while waiting for input
};

Result<std::unique_ptr<TerminalSession>> TerminalSession::open() {
  int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(Errc::kIoError,
                      std::string("no terminal to ask the questions on (/dev/tty: ") +
                          std::strerror(errno) +
                          "); without a terminal, use: satchel record FORM_ID --answers FILE");
  }
  std::unique_ptr<TerminalSession> s(new TerminalSession());
  s->fd_ = fd;
  s->saved_ = std::make_unique<Saved>();
  s->pending_.reserve(4096);
  Saved& saved = *s->saved_;
  if (::tcgetattr(fd, &saved.mode) != 0) {
    return make_error(Errc::kIoError,
                      std::string("/dev/tty is not a usable terminal: ") + std::strerror(errno));
  }

  // Leave signals stay blocked except while waiting for a key (ppoll), so a signal can never
  // slip in between checking the flag and blocking in read.
  sigset_t leave;
  sigemptyset(&leave);
  for (int sig : kLeaveSignals) sigaddset(&leave, sig);
  ::sigprocmask(SIG_BLOCK, &leave, &saved.mask);
  saved.wait_mask = saved.mask;
  for (int sig : kLeaveSignals) sigdelset(&saved.wait_mask, sig);
  g_leave_signal = 0;
  for (size_t i = 0; i < std::size(kLeaveSignals); ++i) {
    struct sigaction sa {};
    sa.sa_handler = on_leave_signal;
    sa.sa_mask = leave;
    sa.sa_flags = 0;  // no SA_RESTART: the wait must end
    ::sigaction(kLeaveSignals[i], &sa, &saved.actions[i]);
  }
  s->signals_installed_ = true;

  termios raw = saved.mode;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ECHONL | IEXTEN);
  raw.c_lflag |= ISIG;                          // Ctrl-C still raises SIGINT, which saves the draft
  raw.c_iflag &= ~static_cast<tcflag_t>(IXON);  // Ctrl-S must not freeze the screen
  raw.c_oflag |= OPOST | ONLCR;                 // screens end lines with "\n" alone
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  // Suspending or quitting would leave the terminal on the alternate screen in raw mode.
  raw.c_cc[VQUIT] = _POSIX_VDISABLE;
  raw.c_cc[VSUSP] = _POSIX_VDISABLE;
  if (::tcsetattr(fd, TCSADRAIN, &raw) != 0) {
    return make_error(Errc::kIoError,
                      std::string("cannot set the terminal mode: ") + std::strerror(errno));
  }
  s->termios_saved_ = true;
  s->write("\x1b[?1049h");
  s->on_alternate_screen_ = true;
  s->clear_screen();
  return s;
}

TerminalSession::~TerminalSession() {
  // Cleared first, so a terminal without an alternate screen is not left showing answers.
  if (on_alternate_screen_) write("\x1b[H\x1b[2J\x1b[?25h\x1b[?1049l");
  if (termios_saved_) ::tcsetattr(fd_, TCSADRAIN, &saved_->mode);
  if (signals_installed_) {
    // Unblock first: a pending signal then only sets the flag, instead of hitting the default
    // action (termination) before the caller saves the draft.
    ::sigprocmask(SIG_SETMASK, &saved_->mask, nullptr);
    for (size_t i = 0; i < std::size(kLeaveSignals); ++i)
      ::sigaction(kLeaveSignals[i], &saved_->actions[i], nullptr);
  }
  scrub(pending_);
  if (fd_ >= 0) ::close(fd_);
}

void TerminalSession::write(std::string_view text) {
  while (!text.empty() && fd_ >= 0) {
    ssize_t n = ::write(fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the terminal is gone: nothing more can be shown
    text.remove_prefix(static_cast<size_t>(n));
  }
}

void TerminalSession::clear_screen() {
  write("\x1b[H\x1b[2J\x1b[3J");
}

bool TerminalSession::interrupted() const {
  return g_leave_signal != 0;
}

int TerminalSession::columns() const {
  winsize ws{};
  return ::ioctl(fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

int TerminalSession::rows() const {
  winsize ws{};
  return ::ioctl(fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 ? ws.ws_row : 24;
}

bool TerminalSession::fill_pending() {
  for (;;) {
    if (g_leave_signal != 0) {
      status_ = ReadStatus::kInterrupted;
      return false;
    }
    pollfd p{fd_, POLLIN, 0};
    int r = ::ppoll(&p, 1, nullptr, &saved_->wait_mask);
    if (r < 0) {
      if (errno == EINTR) continue;  // the loop head tells a leave signal from any other
      status_ = ReadStatus::kClosed;
      return false;
    }
    if (p.revents & POLLIN) {
      char buf[512];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n > 0) {
        pending_.append(buf, static_cast<size_t>(n));
        wipe(buf, static_cast<size_t>(n));
        return true;
      }
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      status_ = ReadStatus::kClosed;
      return false;
    }
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) {
      status_ = ReadStatus::kClosed;
      return false;
    }
  }
}

void TerminalSession::erase_last_code_point(std::string& line) {
  if (line.empty()) return;
  while (!line.empty() && (static_cast<unsigned char>(line.back()) & 0xC0) == 0x80)
    line.back() = 0, line.pop_back();
  if (!line.empty()) line.back() = 0, line.pop_back();
  write("\b \b");
}

ReadStatus TerminalSession::read_line(std::string& line) {
  scrub(line);
  line.reserve(1024);  // fewer reallocations leaving unwiped copies behind
  std::string echo;
  ScrubOnExit scrub_echo(echo);
  for (;;) {
    if (pending_pos_ == pending_.size()) {
      // All typed bytes are used: wiped in place rather than shifted (which would leave copies).
      write(echo);
      scrub(echo);
      scrub(pending_);
      pending_pos_ = 0;
      if (!fill_pending()) {
        scrub(line);
        return status_;
      }
      continue;
    }
    const auto c = static_cast<unsigned char>(pending_[pending_pos_++]);
    const bool was_cr = after_cr_;
    after_cr_ = false;
    if (escape_state_ == 1) {
      escape_state_ = (c == '[' || c == 'O') ? 2 : 0;
      continue;
    }
    if (escape_state_ == 2) {
      if (c >= 0x40 && c <= 0x7E) escape_state_ = 0;
      continue;
    }
    if (c == '\r' || (c == '\n' && !was_cr)) {
      after_cr_ = c == '\r';
      echo += '\n';
      write(echo);
      return ReadStatus::kLine;
    }
    if (c == '\n') continue;  // the LF of a CR LF pair
    if (c == 0x1B) {
      escape_state_ = 1;
    } else if (c == 0x7F || c == 0x08) {
      write(echo);
      scrub(echo);
      erase_last_code_point(line);
    } else if (c == 0x15 || c == 0x17) {  // Ctrl-U: the whole line; Ctrl-W: the last word
      write(echo);
      scrub(echo);
      bool word = c == 0x17;
      while (word && !line.empty() && line.back() == ' ') erase_last_code_point(line);
      while (!line.empty() && !(word && line.back() == ' ')) erase_last_code_point(line);
    } else if (c == '\t' || c >= 0x20) {
      if (line.size() >= kMaxLineBytes) {
        echo += '\a';
        continue;
      }
      line += c == '\t' ? ' ' : static_cast<char>(c);
      echo += line.back();
    }
    // Other control characters are ignored.
  }
}

ScrubOnExit::~ScrubOnExit() {
  scrub(s_);
}

void scrub(std::string& s) {
  wipe(s.data(), s.size());
  s.clear();
}

}  // namespace satchel::cli
