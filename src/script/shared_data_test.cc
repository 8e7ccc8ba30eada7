// The shared datasets of stampede.data: CSV and JSON parsing, error lines,
// the process-wide registry and the unique() counter across threads.
#include "script/shared_data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

namespace stampede::script::data {
namespace {

std::shared_ptr<Dataset> Csv(std::string text, ParseOptions o, std::string* error) {
  return ParseCsv(std::move(text), "t.csv", o, error);
}

std::vector<std::string> Row(const Dataset& d, size_t row) {
  std::vector<std::string> out;
  for (size_t i = 0; i < d.fields(); ++i) out.emplace_back(d.Field(row, i));
  return out;
}

TEST(SharedCsv, PlainRowsWithoutHeader) {
  std::string error;
  auto d = Csv("a,b\nc,d\n", {}, &error);
  ASSERT_NE(d, nullptr) << error;
  EXPECT_EQ(d->rows(), 2u);
  EXPECT_EQ(d->fields(), 2u);
  EXPECT_TRUE(d->header().empty());
  EXPECT_EQ(Row(*d, 0), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Row(*d, 1), (std::vector<std::string>{"c", "d"}));
}

TEST(SharedCsv, HeaderQuotingCrlfBom) {
  std::string error;
  ParseOptions o;
  o.header = true;
  auto d =
      Csv("\xEF\xBB\xBFname,password\r\n\"a,1\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",\"\"\r\n", o,
          &error);
  ASSERT_NE(d, nullptr) << error;
  EXPECT_EQ(d->header(), (std::vector<std::string>{"name", "password"}));
  ASSERT_EQ(d->rows(), 2u);
  EXPECT_EQ(Row(*d, 0), (std::vector<std::string>{"a,1", "say \"hi\""}));
  EXPECT_EQ(Row(*d, 1), (std::vector<std::string>{"multi\nline", ""}));
}

TEST(SharedCsv, NoTrailingNewlineAndTrailingEmptyLines) {
  std::string error;
  auto d = Csv("a,b\nc,d", {}, &error);
  ASSERT_NE(d, nullptr) << error;
  EXPECT_EQ(d->rows(), 2u);
  d = Csv("a,b\nc,d\n\n\r\n\n", {}, &error);
  ASSERT_NE(d, nullptr) << error;
  EXPECT_EQ(d->rows(), 2u);
  d = Csv("a,\n,\n", {}, &error);
  ASSERT_NE(d, nullptr) << error;
  EXPECT_EQ(Row(*d, 0), (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(Row(*d, 1), (std::vector<std::string>{"", ""}));
}

TEST(SharedCsv, SeparatorOption) {
  std::string error;
  ParseOptions o;
  o.separator = ';';
  auto d = Csv("a;b,c\n\"x;y\";z\n", o, &error);
  ASSERT_NE(d, nullptr) << error;
  EXPECT_EQ(Row(*d, 0), (std::vector<std::string>{"a", "b,c"}));
  EXPECT_EQ(Row(*d, 1), (std::vector<std::string>{"x;y", "z"}));
  o.separator = '\t';
  d = Csv("a\tb\n", o, &error);
  ASSERT_NE(d, nullptr) << error;
  EXPECT_EQ(Row(*d, 0), (std::vector<std::string>{"a", "b"}));
}

TEST(SharedCsv, RaggedRowNamesItsLine) {
  std::string error;
  ParseOptions o;
  o.header = true;
  // The quoted field spans lines 2-3, so the ragged record starts on line 4.
  EXPECT_EQ(Csv("u,p\n\"x\ny\",1\nbad\n", o, &error), nullptr);
  EXPECT_NE(error.find("\"t.csv\" line 4: 1 field, expected 2 as in the header (line 1)"),
            std::string::npos)
      << error;
  EXPECT_EQ(Csv("a,b,c\nd,e\n", {}, &error), nullptr);
  EXPECT_NE(error.find("line 2: 2 fields, expected 3 as in the first row (line 1)"),
            std::string::npos)
      << error;
  EXPECT_EQ(Csv("a,b\n\nc,d\n", {}, &error), nullptr);  // an empty line inside
  EXPECT_NE(error.find("line 2: empty line"), std::string::npos) << error;
}

TEST(SharedCsv, UnterminatedQuoteAndStrayQuote) {
  std::string error;
  EXPECT_EQ(Csv("a,b\nc,\"d\ne\n", {}, &error), nullptr);
  EXPECT_NE(error.find("\"t.csv\" line 2: unterminated quote"), std::string::npos) << error;
  EXPECT_EQ(Csv("a,b\n\"c\"x,d\n", {}, &error), nullptr);
  EXPECT_NE(error.find("line 2: unexpected \"x\" after a closing quote"), std::string::npos)
      << error;
}

TEST(SharedCsv, OneColumnKeepsEmptyValues) {
  std::string error;
  auto d = Csv("a\n\nb\n\n", {}, &error);
  ASSERT_NE(d, nullptr) << error;
  ASSERT_EQ(d->rows(), 3u);
  EXPECT_EQ(d->Field(1, 0), "");
  EXPECT_EQ(d->Field(2, 0), "b");
}

TEST(SharedCsv, EmptyFile) {
  std::string error;
  auto d = Csv("", {}, &error);
  ASSERT_NE(d, nullptr) << error;
  EXPECT_EQ(d->rows(), 0u);
  ParseOptions o;
  o.header = true;
  EXPECT_EQ(Csv("", o, &error), nullptr);
  EXPECT_NE(error.find("header"), std::string::npos) << error;
}

TEST(SharedJson, ArrayElementsCompact) {
  std::string error;
  auto d =
      ParseJson("[\n {\"u\": \"a\\\"b\", \"n\": [1, 2.50, -3, null, true]},\n 7, \"s\", [], {}\n]",
                "t.json", &error);
  ASSERT_NE(d, nullptr) << error;
  ASSERT_EQ(d->rows(), 5u);
  EXPECT_EQ(d->JsonRow(0), R"({"u":"a\"b","n":[1,2.50,-3,null,true]})");
  EXPECT_EQ(d->JsonRow(1), "7");
  EXPECT_EQ(d->JsonRow(2), "\"s\"");
  EXPECT_EQ(d->JsonRow(3), "[]");
  EXPECT_EQ(d->JsonRow(4), "{}");
  d = ParseJson("[]", "t.json", &error);
  ASSERT_NE(d, nullptr) << error;
  EXPECT_EQ(d->rows(), 0u);
}

TEST(SharedJson, NotAnArrayAndInvalid) {
  std::string error;
  EXPECT_EQ(ParseJson("{\"a\": 1}", "t.json", &error), nullptr);
  EXPECT_NE(error.find("\"t.json\": the top level is an object, not an array"), std::string::npos)
      << error;
  EXPECT_EQ(ParseJson("[\n{\"a\": 1},\n{\"a\" 2}\n]", "t.json", &error), nullptr);
  EXPECT_NE(error.find("\"t.json\" line 3: invalid JSON"), std::string::npos) << error;
  EXPECT_EQ(ParseJson("[1, 2", "t.json", &error), nullptr);
  EXPECT_NE(error.find("line 1: invalid JSON"), std::string::npos) << error;
  EXPECT_EQ(ParseJson(std::string(300, '[') + std::string(300, ']'), "t.json", &error), nullptr);
  EXPECT_NE(error.find("deeper"), std::string::npos) << error;
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/stampede_data_XXXXXX";
    int fd = mkstemp(tmpl);
    path_ = tmpl;
    std::ofstream(path_, std::ios::binary) << content;
    close(fd);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(SharedRegistry, SamePointerWhileHeldAndPerOptions) {
  TempFile f("a,b\nc,d\n");
  std::string error;
  ParseOptions o;
  auto d1 = LoadShared(f.path(), o, &error);
  ASSERT_NE(d1, nullptr) << error;
  auto d2 = LoadShared(f.path(), o, &error);
  EXPECT_EQ(d1.get(), d2.get());
  o.header = true;
  auto d3 = LoadShared(f.path(), o, &error);
  ASSERT_NE(d3, nullptr) << error;
  EXPECT_NE(d1.get(), d3.get());
  EXPECT_EQ(d3->rows(), 1u);
}

TEST(SharedRegistry, MissingFileAndBadContent) {
  std::string error;
  EXPECT_EQ(LoadShared("/nonexistent/users.csv", {}, &error), nullptr);
  EXPECT_NE(error.find("cannot read \"/nonexistent/users.csv\""), std::string::npos) << error;
  TempFile f("a,b\nc\n");
  EXPECT_EQ(LoadShared(f.path(), {}, &error), nullptr);
  EXPECT_NE(error.find(f.path() + "\" line 2"), std::string::npos) << error;
}

TEST(SharedRegistry, UniqueCounterNeverRepeatsAcrossThreads) {
  std::string csv;
  for (int i = 0; i < 1000; ++i) csv += std::to_string(i) + "\n";
  TempFile f(csv);
  std::string error;
  auto d = LoadShared(f.path(), {}, &error);
  ASSERT_NE(d, nullptr) << error;
  std::vector<uint64_t> got[2];
  std::thread threads[2];
  for (int t = 0; t < 2; ++t) {
    threads[t] = std::thread([&, t] {
      std::string e;
      auto mine = LoadShared(f.path(), {}, &e);  // the same dataset
      for (int i = 0; i < 50000; ++i) got[t].push_back(mine->NextUnique());
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint64_t> all(got[0].begin(), got[0].end());
  all.insert(got[1].begin(), got[1].end());
  EXPECT_EQ(all.size(), 100000u);
  EXPECT_EQ(*all.rbegin(), 99999u);
}

}  // namespace
}  // namespace stampede::script::data
