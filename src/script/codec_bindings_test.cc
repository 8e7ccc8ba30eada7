// Known-answer tests of stampede.encoding and stampede.crypto, called through
// a bare lua_State with both modules loaded.
#include <gtest/gtest.h>

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

#include <string>

#include "script/codec_bindings.h"

namespace stampede::script {
namespace {

class CodecBindingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    L_ = luaL_newstate();
    luaL_openlibs(L_);
    OpenEncodingModule(L_);
    lua_setglobal(L_, "encoding");
    OpenCryptoModule(L_);
    lua_setglobal(L_, "crypto");
  }
  void TearDown() override { lua_close(L_); }

  // Evaluates `return <expr>`; a Lua error fails the test and returns "".
  std::string Eval(const std::string& expr) {
    const std::string chunk = "return " + expr;
    if (luaL_loadstring(L_, chunk.c_str()) != 0 || lua_pcall(L_, 0, 1, 0) != 0) {
      ADD_FAILURE() << expr << ": " << lua_tostring(L_, -1);
      lua_pop(L_, 1);
      return "";
    }
    size_t len = 0;
    const char* s = lua_tolstring(L_, -1, &len);
    std::string out = s ? std::string(s, len) : std::string("<non-string>");
    lua_pop(L_, 1);
    return out;
  }

  // Runs `stmt`; returns the error message, or "" when it did not raise.
  std::string Error(const std::string& stmt) {
    if (luaL_loadstring(L_, stmt.c_str()) != 0) return "<syntax>";
    if (lua_pcall(L_, 0, 0, 0) == 0) return "";
    std::string msg = lua_tostring(L_, -1);
    lua_pop(L_, 1);
    return msg;
  }

  lua_State* L_ = nullptr;
};

TEST_F(CodecBindingsTest, Rfc4648Base64AndHex) {
  struct Case {
    const char* in;
    const char* b64;
    const char* hex;
  };
  const Case cases[] = {{"", "", ""},
                        {"f", "Zg==", "66"},
                        {"fo", "Zm8=", "666f"},
                        {"foo", "Zm9v", "666f6f"},
                        {"foob", "Zm9vYg==", "666f6f62"},
                        {"fooba", "Zm9vYmE=", "666f6f6261"},
                        {"foobar", "Zm9vYmFy", "666f6f626172"}};
  for (const Case& c : cases) {
    const std::string q = std::string("'") + c.in + "'";
    EXPECT_EQ(Eval("encoding.b64encode(" + q + ")"), c.b64) << c.in;
    EXPECT_EQ(Eval("encoding.b64decode('" + std::string(c.b64) + "')"), c.in);
    EXPECT_EQ(Eval("encoding.b64decode('" + std::string(c.b64) + "', 'std', 's')"), c.in);
    EXPECT_EQ(Eval("encoding.hexencode(" + q + ")"), c.hex);
    EXPECT_EQ(Eval("encoding.hexdecode('" + std::string(c.hex) + "')"), c.in);
    std::string raw = c.b64;
    raw.erase(raw.find_last_not_of('=') + 1);
    EXPECT_EQ(Eval("encoding.b64encode(" + q + ", 'rawstd')"), raw);
    EXPECT_EQ(Eval("encoding.b64decode('" + raw + "', 'rawurl')"), c.in);
  }
}

TEST_F(CodecBindingsTest, Base64VariantsRoundTripAllBytes) {
  Eval(
      "(function() local t = {} for i = 0, 255 do t[#t + 1] = string.char(i) end "
      "ALL = table.concat(t) return '' end)()");
  for (const char* v : {"std", "rawstd", "url", "rawurl"}) {
    EXPECT_EQ(Eval(std::string("tostring(encoding.b64decode(encoding.b64encode(ALL, '") + v +
                   "'), '" + v + "') == ALL)"),
              "true")
        << v;
  }
  EXPECT_EQ(Eval("tostring(encoding.hexdecode(encoding.hexencode(ALL)) == ALL)"), "true");
  EXPECT_EQ(Eval("tostring(encoding.urldecode(encoding.urlencode(ALL)) == ALL)"), "true");
  EXPECT_EQ(Eval("encoding.b64encode('\\251\\255', 'std')"), "+/8=");
  EXPECT_EQ(Eval("encoding.b64encode('\\251\\255', 'url')"), "-_8=");
  EXPECT_EQ(Eval("encoding.b64encode('\\251\\255', 'rawurl')"), "-_8");
}

TEST_F(CodecBindingsTest, UrlEscaping) {
  EXPECT_EQ(Eval("encoding.urlencode('a b&c=d/é~._-')"), "a%20b%26c%3Dd%2F%C3%A9~._-");
  EXPECT_EQ(Eval("encoding.urldecode('a+b%20c%2F')"), "a b c/");
}

TEST_F(CodecBindingsTest, BadEncodingInputsRaise) {
  EXPECT_NE(Error("encoding.b64decode('Zg=')")
                .find("encoding.b64decode: illegal base64 data at input byte 3"),
            std::string::npos);
  EXPECT_NE(Error("encoding.b64decode('Zm9v!')").find("at input byte 4"), std::string::npos);
  EXPECT_NE(Error("encoding.b64decode('Zg==', 'rawstd')").find("at input byte 2"),
            std::string::npos);
  EXPECT_NE(Error("encoding.b64decode('Zg', 'std')").find("illegal base64"), std::string::npos);
  EXPECT_NE(Error("encoding.b64decode('-_8=', 'std')").find("at input byte 0"), std::string::npos);
  EXPECT_NE(Error("encoding.b64encode('x', 'std2')").find("\"rawurl\""), std::string::npos);
  EXPECT_NE(Error("encoding.b64encode({})").find("must be a string"), std::string::npos);
  EXPECT_NE(Error("encoding.hexdecode('abc')").find("encoding.hexdecode: odd length"),
            std::string::npos);
  EXPECT_NE(Error("encoding.hexdecode('zz')").find("at input byte 0"), std::string::npos);
  EXPECT_NE(Error("encoding.urldecode('%zz')").find("invalid URL escape \"%zz\""),
            std::string::npos);
  EXPECT_NE(Error("encoding.urldecode('%4')").find("invalid URL escape"), std::string::npos);
}

TEST_F(CodecBindingsTest, HashKnownAnswers) {
  EXPECT_EQ(Eval("crypto.md5('', 'hex')"), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Eval("crypto.md5('abc', 'hex')"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Eval("crypto.sha1('abc', 'hex')"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Eval("crypto.sha256('abc', 'hex')"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Eval("crypto.sha384('abc', 'hex')"),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
            "8086072ba1e7cc2358baeca134c825a7");
  EXPECT_EQ(Eval("crypto.sha512('abc', 'hex')"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(Eval("crypto.sha512_256('abc', 'hex')"),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23");
  EXPECT_EQ(Eval("crypto.md5('', 'base64')"), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(Eval("crypto.md5('', 'base64rawurl')"), "1B2M2Y8AsgTpgAmY7PhCfg");
  EXPECT_EQ(Eval("tostring(#crypto.sha256('abc', 'binary'))"), "32");
}

TEST_F(CodecBindingsTest, Rfc4231Hmac) {
  struct Case {
    const char* key;   // Lua expression
    const char* data;  // Lua expression
    const char* sha256;
    const char* sha384;
    const char* sha512;
  };
  const Case cases[] = {
      {"string.rep('\\11', 20)", "'Hi There'",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
       "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
       "faea9ea9076ede7f4af152e8b2fa9cb6",
       "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
       "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
      {"'Jefe'", "'what do ya want for nothing?'",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
       "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
       "8e2240ca5e69e2c78b3239ecfab21649",
       "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
       "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
      {"string.rep('\\170', 20)", "string.rep('\\221', 50)",
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
       "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b"
       "2a5ab39dc13814b94e3ab6e101a34f27",
       "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
       "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"},
      {"(function() local t = {} for i = 1, 25 do t[i] = string.char(i) end "
       "return table.concat(t) end)()",
       "string.rep('\\205', 50)",
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
       "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e"
       "6801dd23c4a7d679ccf8a386c674cffb",
       "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
       "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
      {"string.rep('\\170', 131)", "'Test Using Larger Than Block-Size Key - Hash Key First'",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
       "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
       "0c2ef6ab4030fe8296248df163f44952",
       "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
       "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
  };
  for (const Case& c : cases) {
    const std::string args = std::string(c.key) + ", " + c.data + ", 'hex')";
    EXPECT_EQ(Eval("crypto.hmac('sha256', " + args), c.sha256) << c.key;
    EXPECT_EQ(Eval("crypto.hmac('sha384', " + args), c.sha384) << c.key;
    EXPECT_EQ(Eval("crypto.hmac('sha512', " + args), c.sha512) << c.key;
  }
}

TEST_F(CodecBindingsTest, RandomBytes) {
  EXPECT_EQ(Eval("tostring(#crypto.randomBytes(0))"), "0");
  EXPECT_EQ(Eval("tostring(#crypto.randomBytes(32))"), "32");
  EXPECT_EQ(Eval("tostring(crypto.randomBytes(16) ~= crypto.randomBytes(16))"), "true");
  EXPECT_EQ(Eval("tostring(#crypto.randomBytes(1048576))"), "1048576");
  EXPECT_NE(Error("crypto.randomBytes(1048577)").find("from 0 to 1048576"), std::string::npos);
  EXPECT_NE(Error("crypto.randomBytes(-1)").find("crypto.randomBytes"), std::string::npos);
  EXPECT_NE(Error("crypto.randomBytes(1.5)").find("integer"), std::string::npos);
  EXPECT_NE(Error("crypto.randomBytes('x')").find("must be a number"), std::string::npos);
}

TEST_F(CodecBindingsTest, CryptoMisuseRaises) {
  EXPECT_NE(
      Error("crypto.sha256('abc', 'hexx')").find("crypto.sha256: unknown output encoding 'hexx'"),
      std::string::npos);
  EXPECT_NE(Error("crypto.sha256('abc')").find("\"base64rawurl\""), std::string::npos);
  EXPECT_NE(Error("crypto.md5(42, 'hex')").find("crypto.md5: input"), std::string::npos);
  EXPECT_NE(
      Error("crypto.hmac('sha3', 'k', 'd', 'hex')").find("crypto.hmac: unknown algorithm 'sha3'"),
      std::string::npos);
  EXPECT_NE(Error("crypto.hmac('sha256', nil, 'd', 'hex')").find("secret"), std::string::npos);
  EXPECT_NE(Error("crypto.hmac('sha256', 'k', 'd', 'raw')").find("unknown output encoding"),
            std::string::npos);
}

}  // namespace
}  // namespace stampede::script
