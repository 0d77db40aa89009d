// render_half_blocks: a QR code as lines of Unicode half blocks, black on bright white.
#include <string>

#include "satchel/client/qr_code.h"

namespace satchel::client {
namespace {

constexpr std::string_view kLineStart = "\x1b[30;107m";  // black on bright white
constexpr std::string_view kLineEnd = "\x1b[0m\n";
constexpr std::string_view kUpper = "\xe2\x96\x80";  // U+2580 UPPER HALF BLOCK
constexpr std::string_view kLower = "\xe2\x96\x84";  // U+2584 LOWER HALF BLOCK
constexpr std::string_view kFull = "\xe2\x96\x88";   // U+2588 FULL BLOCK

// The module at (x, y) of the code with its quiet zone; outside the symbol everything is light.
bool dark_with_quiet_zone(const QrCode& qr, int x, int y) {
  x -= kQrQuietZone;
  y -= kQrQuietZone;
  return x >= 0 && y >= 0 && x < qr.size() && y < qr.size() && qr.dark(x, y);
}

}  // namespace

CellExtent half_block_extent(const QrCode& qr) {
  const int side = qr.size() + 2 * kQrQuietZone;
  return CellExtent{side, (side + 1) / 2};
}

std::string render_half_blocks(const QrCode& qr) {
  const CellExtent extent = half_block_extent(qr);
  std::string out;
  // Reserved once: a reallocation would leave an unwiped copy of the code behind.
  out.reserve(static_cast<size_t>(extent.rows) *
              (kLineStart.size() + kLineEnd.size() + 3 * static_cast<size_t>(extent.columns)));
  for (int row = 0; row < extent.rows; ++row) {
    out += kLineStart;
    for (int x = 0; x < extent.columns; ++x) {
      const bool upper = dark_with_quiet_zone(qr, x, 2 * row);
      const bool lower = dark_with_quiet_zone(qr, x, 2 * row + 1);
      if (upper && lower) {
        out += kFull;
      } else if (upper) {
        out += kUpper;
      } else if (lower) {
        out += kLower;
      } else {
        out += ' ';
      }
    }
    out += kLineEnd;
  }
  return out;
}

}  // namespace satchel::client
