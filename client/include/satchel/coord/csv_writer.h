// CSV as RFC 4180 describes it, for spreadsheets: UTF-8 with a byte-order mark (without it Excel
// reads UTF-8 as the machine's legacy code page, and Arabic comes out as mojibake; LibreOffice
// accepts it either way), CRLF line ends, a field quoted when it holds a comma, quote, CR, LF,
// semicolon or tab, quotes doubled. Text cells are neutralised against formula injection (OWASP
// "CSV injection").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "satchel/crypto/io.h"

namespace satchel::coord {

// A text cell as a spreadsheet will not run it: one beginning with '=', '+', '-', '@' (or their
// fullwidth forms), also after leading spaces, controls or no-break spaces, or beginning with a
// tab, CR, LF or NUL, gets a leading apostrophe ("=1+1" becomes "'=1+1"). Not for numbers.
std::string neutralise_text_cell(std::string_view text);

// One CSV cell: text (neutralised) or a number (written as given).
struct CsvCell {
  std::string value;
  bool is_number = false;
  static CsvCell text(std::string_view v) { return {neutralise_text_cell(v), false}; }
  static CsvCell number(std::string v) { return {std::move(v), true}; }
};

// Writes rows to a sink: the byte-order mark first, then each row.
class CsvWriter {
 public:
  explicit CsvWriter(ByteSink& out) : out_(out) {}
  Status write_row(const std::vector<CsvCell>& row);
  uint64_t rows() const { return rows_; }

 private:
  ByteSink& out_;
  bool started_ = false;
  uint64_t rows_ = 0;
};

}  // namespace satchel::coord
