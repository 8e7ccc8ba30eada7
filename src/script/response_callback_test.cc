#include "script/response_callback.h"

#include <gtest/gtest.h>

namespace stampede::script {
namespace {

TEST(ResponseCallbackTest, K6DefaultIs200To399) {
  const ResponseCallback c = ResponseCallback::Default();
  EXPECT_TRUE(c.judges());
  EXPECT_EQ(c.Judge(199, false), ResponseVerdict::kUnexpected);
  EXPECT_EQ(c.Judge(200, false), ResponseVerdict::kExpected);
  EXPECT_EQ(c.Judge(304, false), ResponseVerdict::kExpected);
  EXPECT_EQ(c.Judge(399, false), ResponseVerdict::kExpected);
  EXPECT_EQ(c.Judge(400, false), ResponseVerdict::kUnexpected);
  EXPECT_EQ(c.Judge(503, false), ResponseVerdict::kUnexpected);
}

TEST(ResponseCallbackTest, StatusesAndRanges) {
  ResponseCallback c;
  EXPECT_EQ(c.Judge(200, false), ResponseVerdict::kUnexpected);  // empty set
  c.Add(404, 404);
  c.Add(500, 503);
  c.Add(999, 999);
  c.Add(100, 100);
  EXPECT_TRUE(c.Expects(404));
  EXPECT_FALSE(c.Expects(403));
  EXPECT_FALSE(c.Expects(405));
  EXPECT_TRUE(c.Expects(500));
  EXPECT_TRUE(c.Expects(503));
  EXPECT_FALSE(c.Expects(504));
  EXPECT_TRUE(c.Expects(999));
  EXPECT_TRUE(c.Expects(100));
  EXPECT_FALSE(c.Expects(200));
  EXPECT_FALSE(c.Expects(0));
  EXPECT_FALSE(c.Expects(-1));
  EXPECT_FALSE(c.Expects(1000));
  EXPECT_FALSE(c.Expects(1 << 20));
}

TEST(ResponseCallbackTest, TransportErrorsAreAlwaysUnexpected) {
  ResponseCallback c;
  c.Add(100, 999);
  EXPECT_EQ(c.Judge(0, true), ResponseVerdict::kUnexpected);
  EXPECT_EQ(c.Judge(200, true), ResponseVerdict::kUnexpected);
}

TEST(ResponseCallbackTest, NoneJudgesNothing) {
  const ResponseCallback c = ResponseCallback::None();
  EXPECT_FALSE(c.judges());
  EXPECT_EQ(c.Judge(200, false), ResponseVerdict::kUnjudged);
  EXPECT_EQ(c.Judge(500, false), ResponseVerdict::kUnjudged);
  EXPECT_EQ(c.Judge(0, true), ResponseVerdict::kUnjudged);
}

}  // namespace
}  // namespace stampede::script
