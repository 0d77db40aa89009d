#include "satchel/coord/csv_writer.h"

namespace satchel::coord {

std::string neutralise_text_cell(std::string_view text) {
  if (!text.empty()) {
    const char c = text.front();
    if (c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r')
      return "'" + std::string(text);
  }
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
    if (v.find_first_of(",\"\r\n") == std::string::npos) {
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
  rows_++;
  return out_.write(as_bytes(std::string_view(line)));
}

}  // namespace satchel::coord
