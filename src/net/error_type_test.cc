#include "net/error_type.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>
#include <string>

namespace stampede::net {
namespace {

TEST(NetErrorTest, MapsErrno) {
  EXPECT_EQ(FromErrno(0), NetError::kNone);
  EXPECT_EQ(FromErrno(ECONNREFUSED), NetError::kRefused);
  EXPECT_EQ(FromErrno(ECONNRESET), NetError::kReset);
  EXPECT_EQ(FromErrno(EPIPE), NetError::kReset);
  EXPECT_EQ(FromErrno(ECONNABORTED), NetError::kReset);
  EXPECT_EQ(FromErrno(ETIMEDOUT), NetError::kTimeout);
  EXPECT_EQ(FromErrno(ENETUNREACH), NetError::kUnreachable);
  EXPECT_EQ(FromErrno(EHOSTUNREACH), NetError::kUnreachable);
  EXPECT_EQ(FromErrno(ENETDOWN), NetError::kUnreachable);
  EXPECT_EQ(FromErrno(EMFILE), NetError::kOther);
  EXPECT_EQ(FromErrno(EADDRNOTAVAIL), NetError::kOther);
}

TEST(NetErrorTest, AFailedCallIsNeverNone) {
  EXPECT_EQ(FailureFromErrno(0), NetError::kOther);
  EXPECT_EQ(FailureFromErrno(EPIPE), NetError::kReset);
  EXPECT_EQ(FailureFromErrno(ECONNREFUSED), NetError::kRefused);
  EXPECT_EQ(FailureFromErrno(EINVAL), NetError::kOther);
}

TEST(NetErrorTest, NamesAreStableAndDistinct) {
  EXPECT_EQ(Name(NetError::kNone), "none");
  EXPECT_EQ(Name(NetError::kDns), "dns");
  EXPECT_EQ(Name(NetError::kRefused), "refused");
  EXPECT_EQ(Name(NetError::kReset), "reset");
  EXPECT_EQ(Name(NetError::kTimeout), "timeout");
  EXPECT_EQ(Name(NetError::kTls), "tls");
  EXPECT_EQ(Name(NetError::kTlsVerify), "tls_verify");
  EXPECT_EQ(Name(NetError::kUnreachable), "unreachable");
  EXPECT_EQ(Name(NetError::kProtocol), "protocol");
  EXPECT_EQ(Name(NetError::kClosed), "closed");
  EXPECT_EQ(Name(NetError::kOther), "other");
  std::set<std::string> names;
  for (int i = 0; i <= static_cast<int>(NetError::kStreamReset); ++i) {
    names.insert(std::string(Name(static_cast<NetError>(i))));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(NetError::kStreamReset) + 1);
}

}  // namespace
}  // namespace stampede::net
