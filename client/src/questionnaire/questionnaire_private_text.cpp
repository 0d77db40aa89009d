// show_private_text: text holding answers shown a page at a time on the alternate screen, so it
// never stays in the terminal's scrollback; written as is when stdout is not a terminal (a pipe or
// file the person chose).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "questionnaire/questionnaire.h"
#include "questionnaire/questionnaire_input.h"
#include "questionnaire/questionnaire_terminal.h"

namespace satchel::cli {
namespace {

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// The text cut into screen rows of at most `columns` code points (one column each: an estimate),
// so that one long line (a long answer in JSON) is paged too instead of scrolling off the screen.
std::vector<std::string_view> screen_rows(std::string_view text, size_t columns) {
  std::vector<std::string_view> rows;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    do {
      size_t end = 0;
      for (size_t chars = 0; end < line.size(); ++end) {
        if ((static_cast<unsigned char>(line[end]) & 0xC0) == 0x80) continue;
        if (chars++ == columns) break;
      }
      rows.push_back(line.substr(0, end));
      line.remove_prefix(end);
    } while (!line.empty());
  }
  return rows;
}

}  // namespace

void show_private_text(const std::string& text) {
  std::cout.flush();
  if (!::isatty(STDOUT_FILENO)) {
    write_all(STDOUT_FILENO, text);
    return;
  }
  auto term = TerminalSession::open();
  if (!term) {
    std::cerr << "satchel: cannot show this privately (" << term.error().message
              << "); redirect the output to a file or a pipe to read it\n";
    return;
  }
  TerminalSession& t = **term;
  const auto rows = screen_rows(text, static_cast<size_t>(t.columns()));
  const size_t page_rows = static_cast<size_t>(std::max(t.rows() - 2, 3));
  std::string line;
  ScrubOnExit scrub_line(line);
  for (size_t next = 0;;) {
    t.clear_screen();
    for (size_t end = std::min(next + page_rows, rows.size()); next < end; ++next) {
      t.write(rows[next]);
      t.write("\n");
    }
    const bool last = next >= rows.size();
    t.write(last ? "\n-- press Enter to return --" : "\n-- Enter: next page   q: return --");
    if (t.read_line(line) != ReadStatus::kLine || last || trim(line) == "q") return;
  }
}

}  // namespace satchel::cli
