// CSV for spreadsheets (client/src/coord/csv_writer.cpp): RFC 4180 quoting, and no text cell a
// spreadsheet would run as a formula.
#include <catch2/catch_test_macros.hpp>

#include "satchel/coord/csv_writer.h"

using namespace satchel;
using satchel::coord::CsvCell;
using satchel::coord::neutralise_text_cell;

TEST_CASE("text cells that a spreadsheet could run as a formula get a leading apostrophe") {
  for (const char* hostile : {"=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\n=1", " =1",
                              "  +cmd|' /C calc'!A0", "\xC2\xA0=1",
                              "\xEF\xBC\x9D"
                              "1+1",
                              "\xEF\xBC\x8B"
                              "1",
                              "\xEF\xBC\x8D"
                              "1",
                              "\xEF\xBC\xA0"
                              "x",
                              "\t", "\x01hidden"}) {
    INFO(hostile);
    CHECK(neutralise_text_cell(hostile) == std::string("'") + hostile);
  }
  CHECK(std::string(neutralise_text_cell(std::string("\0=1", 3))) == std::string("'\0=1", 4));
  for (const char* plain : {"", "plain", "a=b", "1-2", "أوقفونا ليلاً", " leading space", "x;y"}) {
    INFO(plain);
    CHECK(neutralise_text_cell(plain) == plain);
  }
}

TEST_CASE("csv rows follow RFC 4180 with a byte-order mark, and numbers stay numbers") {
  MemorySink out;
  coord::CsvWriter w(out);
  REQUIRE(w.write_row({CsvCell::text("a,b"), CsvCell::text("say \"hi\""), CsvCell::text("x;=1"),
                       CsvCell::number("-5"), CsvCell::text("two\r\nlines")}));
  REQUIRE(w.write_row({CsvCell::text("plain"), CsvCell::text("-5")}));
  const std::string text(out.data().begin(), out.data().end());
  CHECK(text ==
        "\xEF\xBB\xBF\"a,b\",\"say \"\"hi\"\"\",\"x;=1\",-5,\"two\r\nlines\"\r\n"
        "plain,'-5\r\n");
  CHECK(w.rows() == 2);
}
