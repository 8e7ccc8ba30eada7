// Byte-exact tests of the form body encoders (urlencoded and multipart).
#include "script/form_body.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace stampede::script::form {
namespace {

std::string UrlEncoded(std::string_view s) {
  std::string out;
  AppendFormUrlEncoded(s, out);
  return out;
}

TEST(FormUrlEncodedTest, WhatwgByteSerializer) {
  EXPECT_EQ(UrlEncoded("abcXYZ019*-._"), "abcXYZ019*-._");
  EXPECT_EQ(UrlEncoded("a b"), "a+b");
  EXPECT_EQ(UrlEncoded("1+1=2&x"), "1%2B1%3D2%26x");
  EXPECT_EQ(UrlEncoded("~!'()/?#%"), "%7E%21%27%28%29%2F%3F%23%25");
  EXPECT_EQ(UrlEncoded("caf\xC3\xA9 \xE2\x82\xAC"), "caf%C3%A9+%E2%82%AC");  // UTF-8 bytes
  EXPECT_EQ(UrlEncoded(std::string_view("\0\n\r\xFF", 4)), "%00%0A%0D%FF");
  EXPECT_EQ(UrlEncoded(""), "");
}

TEST(FormUrlEncodedTest, FieldsInOrderWithEmptyValuesAndRepeats) {
  std::vector<FormField> fields = {{"a", "1"}, {"a", "2"}, {"empty", ""}, {"q s", "x&y=z"}};
  std::string out = "keep:";  // appends, never clears
  EncodeUrlEncoded(fields, out);
  EXPECT_EQ(out, "keep:a=1&a=2&empty=&q+s=x%26y%3Dz");
  out.clear();
  EncodeUrlEncoded({}, out);
  EXPECT_EQ(out, "");
}

TEST(FormMultipartTest, ByteExactLayout) {
  std::vector<FormField> fields = {
      {"title", "hello"},
      {"file", std::string_view("\0\xFF\r\n", 4), true, "a.bin", "application/octet-stream"},
      {"note", ""},
  };
  std::string out;
  EncodeMultipart(fields, "B0undary", out);
  const std::string expected =
      std::string(
          "--B0undary\r\n"
          "Content-Disposition: form-data; name=\"title\"\r\n"
          "\r\n"
          "hello\r\n"
          "--B0undary\r\n"
          "Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
          "Content-Type: application/octet-stream\r\n"
          "\r\n") +
      std::string("\0\xFF\r\n", 4) +
      "\r\n"
      "--B0undary\r\n"
      "Content-Disposition: form-data; name=\"note\"\r\n"
      "\r\n"
      "\r\n"
      "--B0undary--\r\n";
  EXPECT_EQ(out, expected);
  EXPECT_EQ(MultipartSize(fields, "B0undary"), expected.size());
}

TEST(FormMultipartTest, NoFieldsIsTheCloseDelimiterOnly) {
  std::string out;
  EncodeMultipart({}, "b", out);
  EXPECT_EQ(out, "--b--\r\n");
  EXPECT_EQ(MultipartSize({}, "b"), out.size());
}

TEST(FormMultipartTest, EscapesNamesAndFilenames) {
  std::vector<FormField> fields = {
      {"a\"b\r\nc", "v", true, "x\"y\nz\r.txt", ""},
  };
  std::string out;
  EncodeMultipart(fields, "B", out);
  EXPECT_NE(out.find("name=\"a%22b%0D%0Ac\"; filename=\"x%22y%0Az%0D.txt\"\r\n\r\nv\r\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("Content-Type"), std::string::npos);  // empty content type: no line
  EXPECT_EQ(MultipartSize(fields, "B"), out.size());
  std::string q;
  AppendEscapedQuoted("plain \\ name", q);
  EXPECT_EQ(q, "plain \\ name");
}

TEST(FormMultipartTest, BoundaryIsFreshAndCheckedAgainstContent) {
  std::string b1, b2;
  AppendBoundary(0x0123456789abcdefull, 0xfedcba9876543210ull, b1);
  EXPECT_EQ(b1, "stampede-0123456789abcdeffedcba9876543210");
  AppendBoundary(1, 2, b2);
  EXPECT_NE(b1, b2);
  const std::string content = "..--" + b1 + "..";
  std::vector<FormField> fields = {{"x", "no clash"}, {"f", content, true, "f", ""}};
  EXPECT_TRUE(BoundaryOccurs(fields, b1));
  EXPECT_FALSE(BoundaryOccurs(fields, b2));
  std::vector<FormField> in_name = {{b2, "v"}};
  EXPECT_TRUE(BoundaryOccurs(in_name, b2));
}

TEST(FormMultipartTest, BoundaryParam) {
  EXPECT_EQ(BoundaryParam("multipart/form-data"), "");
  EXPECT_EQ(BoundaryParam("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(BoundaryParam("multipart/form-data;charset=x; Boundary=\"a b\" ; x=y"), "a b");
  EXPECT_EQ(BoundaryParam("multipart/form-data; boundary="), "");
}

}  // namespace
}  // namespace stampede::script::form
