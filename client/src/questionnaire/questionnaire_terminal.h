// The questionnaire's terminal session: /dev/tty opened directly (never stdin/stdout, so answers
// stay out of pipes and logs), the alternate screen (out of scrollback), our own line editing, and
// SIGINT/SIGTERM/SIGHUP turned into a "leave now" flag. The destructor restores the screen, the
// terminal mode, the cursor and the signal dispositions on every exit path.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "satchel/crypto/status.h"

namespace satchel::cli {

enum class ReadStatus {
  kLine,         // a line was typed (Enter)
  kInterrupted,  // Ctrl-C, SIGTERM or SIGHUP: save what there is and leave
  kClosed,       // the terminal went away (hang-up, end of input)
};

class TerminalSession {
 public:
  // Opens /dev/tty, switches to the alternate screen and to non-canonical input without echo
  // (read_line echoes itself), and installs the signal handlers. Fails (kIoError) when the process
  // has no controlling terminal.
  static Result<std::unique_ptr<TerminalSession>> open();
  ~TerminalSession();
  TerminalSession(const TerminalSession&) = delete;
  TerminalSession& operator=(const TerminalSession&) = delete;

  // Writes to the terminal; a terminal that went away is not an error (nothing can be shown).
  void write(std::string_view text);
  // Clears the screen (and what the alternate screen may keep above it) and homes the cursor.
  void clear_screen();
  // Reads one line into `line` (replacing its content), echoing as it is typed, with Backspace,
  // Ctrl-U and Ctrl-W editing; arrow keys and other escape sequences are ignored. Bytes typed
  // ahead of the newline are kept for the next call.
  ReadStatus read_line(std::string& line);
  // True once a signal asked the session to end.
  bool interrupted() const;
  int columns() const;
  int rows() const;

 private:
  TerminalSession() = default;
  bool fill_pending();  // false on signal or hang-up (status_ says which)
  void erase_last_code_point(std::string& line);

  int fd_ = -1;
  bool termios_saved_ = false;
  bool on_alternate_screen_ = false;
  bool signals_installed_ = false;
  ReadStatus status_ = ReadStatus::kLine;
  std::string pending_;     // bytes read from the terminal; wiped once all are used
  size_t pending_pos_ = 0;  // the first byte not yet used
  int escape_state_ = 0;    // 0 none, 1 after ESC, 2 inside a CSI/SS3 sequence
  bool after_cr_ = false;
  struct Saved;
  std::unique_ptr<Saved> saved_;
};

// Wipes a string's bytes and empties it when the scope ends: for buffers holding typed answers
// and screens that show them.
class ScrubOnExit {
 public:
  explicit ScrubOnExit(std::string& s) : s_(s) {}
  ~ScrubOnExit();
  ScrubOnExit(const ScrubOnExit&) = delete;
  ScrubOnExit& operator=(const ScrubOnExit&) = delete;

 private:
  std::string& s_;
};

// Wipes and empties `s` now.
void scrub(std::string& s);

}  // namespace satchel::cli
