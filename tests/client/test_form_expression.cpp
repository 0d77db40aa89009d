// The relevance expression language: syntax, precedence, operators, functions, types, the
// meaning of unanswered questions, and the reference rules that exclude loops.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include "client/test_form_support.h"
#include "satchel/form/expression.h"
#include "satchel/form/relevance.h"

using namespace satchel;
using namespace satchel::form;
using namespace satchel::form::testing;
using Catch::Matchers::ContainsSubstring;
using nlohmann::json;

namespace {

// Questions of every readable type, then "target" whose relevance is `expression`.
json form_with(const std::string& expression) {
  return form_json({
      question("n", "integer"),
      question("d", "decimal"),
      question("t", "text"),
      question("day", "date"),
      question("sc", "single_choice", {{"choices", choices({"a", "b"})}}),
      question("mc", "multiple_choice", {{"choices", choices({"a", "b", "c"})}}),
      question("yn", "yes_no"),
      question("ok", "consent"),
      question("loc", "location"),
      question("att", "attachment", {{"accept", {"photo"}}}),
      question("grp", "repeat", {{"questions", {question("inner", "integer")}}}),
      question("target", "text", {{"relevant", expression}}),
  });
}

// Whether `expression` holds for `answers`.
bool holds(const std::string& expression, const json& answers = json::object()) {
  Form form = parse_ok(form_with(expression));
  auto r = relevant(form, "target", answers);
  REQUIRE(r.ok());
  return r.value();
}

// The parse error of `expression`, from the line about question 'target'.
std::string refused(const std::string& expression) {
  return parse_error(form_with(expression));
}

}  // namespace

TEST_CASE("literals and each comparison operator", "[form][expression]") {
  json a = {{"n", 5}, {"d", 2.5}, {"t", "abc"}, {"yn", true}};
  CHECK(holds("true"));
  CHECK_FALSE(holds("false"));
  CHECK(holds("${n} = 5", a));
  CHECK(holds("${n} != 4", a));
  CHECK(holds("${n} < 6", a));
  CHECK(holds("${n} <= 5", a));
  CHECK(holds("${n} > 4", a));
  CHECK(holds("${n} >= 5", a));
  CHECK_FALSE(holds("${n} > 5", a));
  CHECK(holds("${d} > 2.25 and ${d} < 2.75 and ${d} > -1", a));
  CHECK(holds("${n} > ${d}", a));
  CHECK(holds("${t} = 'abc' and ${t} < 'abd'", a));
  CHECK(holds("${yn} = true and ${yn} != false", a));
  CHECK(holds("${yn}", a));
  CHECK(holds("'it''s' != 'its'"));
}

TEST_CASE("precedence is not, then and, then or; parentheses override", "[form][expression]") {
  // If 'or' bound tighter than 'and', the first would be false.
  CHECK(holds("true or false and false"));
  CHECK_FALSE(holds("(true or false) and false"));
  // 'not' applies to the nearest operand only.
  CHECK(holds("not false and true"));
  CHECK_FALSE(holds("not (false or true)"));
  CHECK(holds("not not true"));
  // Comparisons bind tighter than 'and'.
  CHECK(holds("1 < 2 and 3 > 2"));
}

TEST_CASE("selected reads single and multiple choice answers", "[form][expression]") {
  json a = {{"sc", "b"}, {"mc", {"a", "c"}}};
  CHECK(holds("selected(${sc}, 'b')", a));
  CHECK_FALSE(holds("selected(${sc}, 'a')", a));
  CHECK(holds("selected(${mc}, 'a') and selected(${mc}, 'c')", a));
  CHECK_FALSE(holds("selected(${mc}, 'b')", a));
  CHECK(holds("${sc} = 'b'", a));
}

TEST_CASE("count reads choices, repeat instances, and answered or not", "[form][expression]") {
  json a = {{"mc", {"a", "b"}},
            {"grp", {{{"inner", 1}}, {{"inner", 2}}, {{"inner", 3}}}},
            {"t", "x"},
            {"loc", {{"place", "Town"}}},
            {"att", {"f1", "f2"}}};
  CHECK(holds("count(${mc}) = 2", a));
  CHECK(holds("count(${grp}) = 3", a));
  CHECK(holds("count(${t}) = 1 and count(${n}) = 0", a));
  CHECK(holds("count(${loc}) = 1 and count(${att}) = 1", a));
  CHECK(holds("count(${mc}) = 0 and count(${grp}) = 0 and count(${att}) = 0",
              {{"mc", json::array()}, {"grp", json::array()}, {"att", json::array()}}));
}

TEST_CASE("a comparison with an unanswered question is false, whatever the operator",
          "[form][expression]") {
  for (const char* e :
       {"${n} = 1", "${n} != 1", "${n} < 1", "${n} >= 1", "${t} = ''", "${t} != 'x'",
        "${yn} = false", "${yn} != true", "${sc} = 'a'", "${day} < '2030-01-01'"}) {
    INFO(e);
    CHECK_FALSE(holds(e));
    CHECK(holds(std::string("not (") + e + ")"));
  }
  CHECK_FALSE(holds("${yn}"));  // a bare unanswered yes_no is false
  CHECK_FALSE(holds("selected(${mc}, 'a')"));
  CHECK(holds("count(${n}) = 0"));
  // null, "" and [] are unanswered too; so is an answer of the wrong shape.
  CHECK_FALSE(holds("${t} != 'x'", {{"t", nullptr}}));
  CHECK_FALSE(holds("${t} != 'x'", {{"t", ""}}));
  CHECK_FALSE(holds("${n} != 1", {{"n", "five"}}));
  CHECK_FALSE(holds("${n} != 1", {{"n", 2.5}}));
}

TEST_CASE("dates compare in calendar order", "[form][expression]") {
  json a = {{"day", "2024-03-01"}};
  CHECK(holds("${day} >= '2024-01-01' and ${day} < '2024-12-31'", a));
  CHECK_FALSE(holds("${day} < '2024-02-29'", a));
}

TEST_CASE("integers compare exactly, beyond double precision", "[form][expression]") {
  json a = {{"n", 9007199254740993LL}};
  CHECK(holds("${n} = 9007199254740993", a));
  CHECK_FALSE(holds("${n} = 9007199254740992", a));
}

TEST_CASE("syntax errors name the column", "[form][expression]") {
  CHECK_THAT(refused("${n} = "), ContainsSubstring("question 'target': relevant: column 8: "
                                                   "expected a value, found end of expression"));
  CHECK_THAT(refused("(${n} = 1"), ContainsSubstring("column 10: expected ')'"));
  CHECK_THAT(refused("${n} = 1)"), ContainsSubstring("column 9: unexpected ')'"));
  CHECK_THAT(refused("${t} = 'open"), ContainsSubstring("column 8: string not terminated"));
  CHECK_THAT(refused("${n = 1"), ContainsSubstring("column 1: reference not closed"));
  CHECK_THAT(refused("${N} = 1"), ContainsSubstring("column 1: '${N}' is not a question id"));
  CHECK_THAT(refused("${n} == 1"), ContainsSubstring("column 6: '==' is not an operator"));
  CHECK_THAT(refused("${n} = 1 && true"), ContainsSubstring("column 10: '&&' is not an operator"));
  CHECK_THAT(refused("${t} = \"x\""), ContainsSubstring("column 8: strings are written in single"));
  CHECK_THAT(refused("${n} = 1 # x"), ContainsSubstring("column 10: unexpected character '#'"));
  CHECK_THAT(refused("1 < ${n} < 3"),
             ContainsSubstring("column 10: comparisons cannot be chained"));
  CHECK_THAT(refused("yes"), ContainsSubstring("column 1: unknown word 'yes'"));
  CHECK_THAT(refused("and true"), ContainsSubstring("column 1: expected a value before 'and'"));
  CHECK_THAT(refused("count ${n}"), ContainsSubstring("column 7: expected '(' after count"));
  CHECK_THAT(refused("selected(${mc} 'a')"), ContainsSubstring("column 16: expected ','"));
  CHECK_THAT(refused("1. = 1"), ContainsSubstring("column 2: a decimal point must be followed"));
  CHECK_THAT(refused(""), ContainsSubstring("relevant: must not be empty"));
  // Columns count characters, not bytes.
  CHECK_THAT(refused("${t} = 'نعم' and ?"), ContainsSubstring("column 18: unexpected character"));
}

TEST_CASE("type errors are caught when the form is loaded", "[form][expression]") {
  CHECK_THAT(refused("${n} = 'five'"), ContainsSubstring("column 6: cannot compare a number "
                                                         "with a string"));
  CHECK_THAT(refused("${t} > 3"), ContainsSubstring("cannot compare a string with a number"));
  CHECK_THAT(refused("${yn} < true"), ContainsSubstring("true/false values only compare"));
  CHECK_THAT(refused("${n}"), ContainsSubstring("column 1: a condition must be true or false, "
                                                "but this is a number"));
  CHECK_THAT(refused("${n} and true"), ContainsSubstring("'and' needs conditions"));
  CHECK_THAT(refused("not ${t}"), ContainsSubstring("'not' needs conditions"));
  CHECK_THAT(refused("${mc} = 'a'"),
             ContainsSubstring("${mc} is a multiple_choice question; read it with selected("));
  CHECK_THAT(refused("count(${grp}) > 'x'"), ContainsSubstring("cannot compare a number"));
  CHECK_THAT(refused("selected(${n}, 'a')"),
             ContainsSubstring("selected() reads a single_choice or multiple_choice question"));
  CHECK_THAT(refused("selected(${mc}, 'z')"), ContainsSubstring("'z' is not a choice of ${mc}"));
  CHECK_THAT(refused("${sc} = 'z'"), ContainsSubstring("column 9: 'z' is not a choice of ${sc}"));
  CHECK_THAT(refused("${day} > '2024-13-01'"), ContainsSubstring("is not a date"));
}

TEST_CASE("references to missing, later or the question itself are refused", "[form][expression]") {
  CHECK_THAT(refused("${nope} = 1"),
             ContainsSubstring("test.json: question 'target': relevant: column 1: ${nope} is not "
                               "a question of this form"));
  CHECK_THAT(refused("${target} = 'x'"), ContainsSubstring("${target} is this question itself"));
  json later =
      form_json({question("a", "text", {{"relevant", "${b} = 'x'"}}), question("b", "text")});
  CHECK_THAT(parse_error(later), ContainsSubstring("question 'a': relevant: column 1: ${b} comes "
                                                   "later in the form"));
  // Mutual references would be a loop; the earlier one is always refused.
  json loop = form_json({question("a", "yes_no", {{"relevant", "${b}"}}),
                         question("b", "yes_no", {{"relevant", "${a}"}})});
  CHECK_THAT(parse_error(loop), ContainsSubstring("question 'a': relevant: column 1: ${b} comes "
                                                  "later"));
}

TEST_CASE("expression length and nesting are bounded", "[form][expression]") {
  std::string deep = std::string(32, '(') + "true" + std::string(32, ')');
  CHECK(holds(deep));
  CHECK_THAT(refused("(" + deep + ")"), ContainsSubstring("nested more than 32 levels"));
  std::string nots;
  for (int i = 0; i < 33; ++i) nots += "not ";
  CHECK_THAT(refused(nots + "true"), ContainsSubstring("nested more than 32 levels"));
  std::string long_chain = "true";
  while (long_chain.size() <= 1024) long_chain += " or true";
  CHECK_THAT(refused(long_chain), ContainsSubstring("longer than 1024 characters"));
}

TEST_CASE("an expression records what it reads", "[form][expression]") {
  Form form = parse_ok(form_with("${n} > 1 and (${t} = 'x' or ${n} < 0) and count(${grp}) = 0"));
  const Question* target = form.find_question("target");
  REQUIRE(target->relevant.has_value());
  CHECK(target->relevant->references() == std::vector<std::string>{"n", "t", "grp"});
  CHECK(target->relevant->source() ==
        "${n} > 1 and (${t} = 'x' or ${n} < 0) and count(${grp}) = 0");
}
