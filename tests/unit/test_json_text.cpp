// dump_json: nlohmann's text for UTF-8 documents, \udcXX escapes for bytes that are not
// UTF-8 (issue 13: a non-UTF-8 id ended a build in type_error 316).
#include <gtest/gtest.h>

#include "common/pipeline/json_text.h"

using namespace mmb;
using json = nlohmann::ordered_json;

TEST(JsonText, Utf8DocumentsAreNlohmannsTextByteForByte) {
  const json doc = {{"id", "Zürich \"x\"\n"}, {"n", 1.5}, {"list", {1, "a", nullptr}}, {"empty", json::object()},
                    {"none", json::array()}};
  for (int indent : {-1, 1, 2}) EXPECT_EQ(dump_json(doc, indent), doc.dump(indent));
}

TEST(JsonText, InvalidBytesBecomeSurrogateEscapesInValuesAndKeys) {
  const json doc = {{"source_ids", {"BA_\xff" "1.jpg", "ok"}}, {"k\xe9y", "\xc3"}};
  EXPECT_THROW((void)doc.dump(), json::type_error);
  EXPECT_EQ(dump_json(doc), R"({"source_ids":["BA_\udcff1.jpg","ok"],"k\udce9y":"\udcc3"})");
  EXPECT_EQ(dump_json(doc, 1), "{\n \"source_ids\": [\n  \"BA_\\udcff1.jpg\",\n  \"ok\"\n ],\n \"k\\udce9y\": \"\\udcc3\"\n}");
}

TEST(JsonText, Utf8ValidationRefusesOverlongsSurrogatesAndCutSequences) {
  EXPECT_TRUE(is_utf8("Z\xc3\xbcrich \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_utf8("BA_\xff" "1.jpg"));
  EXPECT_FALSE(is_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_EQ(json_string_literal("\xc0\xaf"), R"("\udcc0\udcaf")");              // overlong '/'
  EXPECT_EQ(json_string_literal("\xed\xa0\x80"), R"("\udced\udca0\udc80")");   // UTF-8 of U+D800
  EXPECT_EQ(json_string_literal("a\xe2\x82"), R"("a\udce2\udc82")");            // cut euro sign
  EXPECT_EQ(json_string_literal("\xe2\x82\xac\xf0\x9f\x98\x80"), "\"\xe2\x82\xac\xf0\x9f\x98\x80\"");
}
