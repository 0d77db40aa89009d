// An invite as a QR code: encoded by libqrencode, drawn on the terminal in Unicode half blocks and
// shown on the alternate screen until a key is pressed, or written to a PNG file on request.
// The modules encode a secret: QrCode wipes them, and callers wipe the renderings they keep.
// (libqrencode's and libpng's own working buffers are freed unwiped: that is out of our reach.)
//
// Terminal size the code needs (half_block_extent; measured by tests/client/test_qr_code.cpp with
// "INV1-" + upper-case base32, level M):
//   typical invite, 1,500 characters: version 26, 121 modules -> 129 columns x 65 rows
//   largest invite, 2,600 characters: version 35, 157 modules -> 165 columns x 83 rows
// plus a row or two for the warning and the prompt, and ceil(length / columns) rows for the text
// (12 more for a typical invite on 129 columns), which is left out when the terminal is too short.
// At level L they would take 117 x 59 (version 23) and 149 x 75 (version 31). Each version more
// (about 120 characters at level M) adds 4 columns and 2 rows. Terminal cells are about twice as
// tall as wide, so two module rows a line keep the modules square.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/status.h"

namespace satchel::client {

// Light modules around the symbol in every rendering, as the QR standard requires.
inline constexpr int kQrQuietZone = 4;

// A QR code symbol: size x size modules, without the quiet zone. Move-only; wiped when destroyed.
class QrCode {
 public:
  // Takes `dark` (size x size entries, row by row, non-zero = dark); fails (kInvalidArgument)
  // unless size is a QR symbol size, 17 + 4 x version for a version from 1 to 40.
  static Result<QrCode> from_modules(int size, std::vector<uint8_t> dark);
  ~QrCode();
  QrCode(QrCode&& other) noexcept;
  QrCode& operator=(QrCode&& other) noexcept;
  QrCode(const QrCode&) = delete;
  QrCode& operator=(const QrCode&) = delete;

  // Modules per side (21 to 177) and the version they make (1 to 40).
  int size() const { return size_; }
  int version() const { return (size_ - 17) / 4; }
  // True when the module in column x, row y (0 <= x, y < size()) is dark.
  bool dark(int x, int y) const { return dark_[static_cast<size_t>(y * size_ + x)] != 0; }

 private:
  QrCode(int size, std::vector<uint8_t> dark) : size_(size), dark_(std::move(dark)) {}
  void wipe_modules();

  int size_ = 0;
  std::vector<uint8_t> dark_;
};

// Encodes text (not empty, no NUL byte) in the smallest version that holds it, at error correction
// level M when version 40 holds it at M, else at level L. libqrencode chooses the modes: A-Z, 0-9,
// space and "$%*+-./:" pack as alphanumerics (an invite is only those), other bytes as 8-bit data.
// Fails (kInvalidArgument, naming the length) when even version 40 at level L cannot hold it.
Result<QrCode> encode_qr(std::string_view text);

// Character cells a rendering takes.
struct CellExtent {
  int columns = 0;
  int rows = 0;
};

// What render_half_blocks(qr) needs: size + 8 columns and ceil((size + 8) / 2) rows.
CellExtent half_block_extent(const QrCode& qr);

// Draws qr with its quiet zone, two module rows a line: U+2580 "▀" (dark above light), U+2584 "▄"
// (light above dark), U+2588 "█" (both dark) or a space (both light); the half row below an odd
// count is light. Each line is ESC[30;107m, the cells, ESC[0m, "\n": dark modules are glyphs in
// black on an explicit bright white background, so the code reads dark on light whatever the
// terminal's colours (a terminal ignoring colours shows it right only on a light background).
// The result encodes the secret: wipe it after use.
std::string render_half_blocks(const QrCode& qr);

// Writes qr to a new file at path as a 1-bit greyscale PNG, `scale` (1 to 64) pixels a module,
// quiet zone included. The file gets mode 0600 (it holds a secret) and never replaces anything:
// an existing path, even a dangling symlink, fails with kAlreadyExists naming it. On any failure
// the partly written file is removed.
Status write_png(const QrCode& qr, const std::string& path, int scale);

// Shows warning, qr and invite_text on the alternate screen of the controlling terminal (/dev/tty,
// never stdout), so none of it reaches scrollback, pipes or logs, until one key is pressed (Ctrl-C
// counts as a key); then clears the screen and leaves the alternate screen, restoring the terminal
// mode on every path. invite_text is left out when the terminal is too short for it; a terminal too
// small for the code is told the size needed and redrawn as it is resized. A SIGINT, SIGTERM,
// SIGHUP or SIGQUIT from elsewhere ends the display and is delivered once the terminal is restored.
// Fails (kIoError) without a terminal, when the terminal goes away, when a signal ended it, or when
// a key was pressed before the code could be shown (the message gives the size needed).
// Expects the other threads of the process to block those signals and SIGWINCH.
Status show_on_alternate_screen(std::string_view warning, std::string_view invite_text,
                                const QrCode& qr);

}  // namespace satchel::client
