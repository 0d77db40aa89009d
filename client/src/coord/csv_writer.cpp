#include "satchel/coord/csv_writer.h"

namespace satchel::coord {

namespace {

// A character a spreadsheet may take as the start of a formula: = + - @ and their fullwidth
// forms (U+FF1D, U+FF0B, U+FF0D, U+FF20), which some spreadsheets fold to ASCII.
bool starts_with_trigger(std::string_view t) {
  if (t.empty()) return false;
  const char c = t.front();
  if (c == '=' || c == '+' || c == '-' || c == '@') return true;
  return t.size() >= 3 && static_cast<unsigned char>(t[0]) == 0xEF &&
         static_cast<unsigned char>(t[1]) == 0xBC &&
         (static_cast<unsigned char>(t[2]) == 0x9D || static_cast<unsigned char>(t[2]) == 0x8B ||
          static_cast<unsigned char>(t[2]) == 0x8D || static_cast<unsigned char>(t[2]) == 0xA0);
}

// Leading characters an import may trim: ASCII controls and spaces, and U+00A0.
size_t trimmed_prefix(std::string_view t) {
  size_t i = 0;
  for (;;) {
    if (i < t.size() && static_cast<unsigned char>(t[i]) <= 0x20) {
      i++;
    } else if (i + 1 < t.size() && static_cast<unsigned char>(t[i]) == 0xC2 &&
               static_cast<unsigned char>(t[i + 1]) == 0xA0) {
      i += 2;
    } else {
      return i;
    }
  }
}

}  // namespace

std::string neutralise_text_cell(std::string_view text) {
  const size_t lead = trimmed_prefix(text);
  // A tab, CR, LF or NUL first, or a trigger after whatever an import might trim.
  if ((lead > 0 && static_cast<unsigned char>(text.front()) < 0x20) ||
      starts_with_trigger(text.substr(lead)))
    return "'" + std::string(text);
  return std::string(text);
}

Status CsvWriter::write_row(const std::vector<CsvCell>& row) {
  std::string line;
  if (!started_) {
    line = "\xEF\xBB\xBF";
    started_ = true;
  }
  for (size_t i = 0; i < row.size(); i++) {
    if (i) line += ',';
    const std::string& v = row[i].value;
    // Quoted also when it holds ';' or a tab: where a spreadsheet splits on those (Excel's list
    // separator in many locales), quotes keep the cell whole, so no part of it starts a cell.
    if (v.find_first_of(",\"\r\n;\t") == std::string::npos) {
      line += v;
      continue;
    }
    line += '"';
    for (char c : v) {
      if (c == '"') line += '"';
      line += c;
    }
    line += '"';
  }
  line += "\r\n";
  SATCHEL_TRY(out_.write(as_bytes(std::string_view(line))));
  rows_++;
  return Status::Ok();
}

}  // namespace satchel::coord
