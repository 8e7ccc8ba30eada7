// The WebSocket frame codec (RFC 6455 §5): writing masked client frames and
// reading a byte stream back into messages (fragmented data messages are
// reassembled; control frames come out between them).
//
// Written here rather than taken from a library: Debian packages no C/C++
// WebSocket client that can run on our event loop and our own sockets
// (libwebsockets brings its own loop and TLS plumbing), and the framing is
// small. No extension (permessage-deflate) is ever negotiated, so any RSV bit
// is an error.
//
// Pure code: no I/O, no clock. Thread: one Reader per connection, any thread.
// Errors are values (Reader::Status::kError with a close code and a reason).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace stampede::ws {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close status codes (RFC 6455 §7.4.1).
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseGoingAway = 1001;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseNoStatus = 1005;  // never on the wire: a close frame without a code
inline constexpr uint16_t kCloseAbnormal =
    1006;  // never on the wire: the TCP connection just ended
inline constexpr uint16_t kCloseInvalidData = 1007;
inline constexpr uint16_t kCloseTooBig = 1009;

// The largest payload of a control frame (ping, pong, close).
inline constexpr size_t kMaxControlPayload = 125;

// True for a close code a peer may send (1000–1003, 1007–1014, 3000–4999).
bool IsValidCloseCode(uint16_t code);

// Appends one frame to `out`. `mask`: the 4-byte masking key of a client
// frame; null writes an unmasked (server) frame. The payload is copied and
// masked into `out`; nothing else is allocated beyond `out`'s growth.
void AppendFrame(Opcode opcode, bool fin, std::string_view payload,
                 const std::array<uint8_t, 4>* mask, std::string& out);

// The payload of a close frame: the code (big-endian), then the reason, cut
// so that the payload fits a control frame. kCloseNoStatus gives an empty
// payload.
std::string ClosePayload(uint16_t code, std::string_view reason);

// One thing read from the stream.
struct Message {
  enum class Kind : uint8_t { kText, kBinary, kPing, kPong, kClose };
  Kind kind = Kind::kText;
  // Valid until the next Feed() or Next().
  std::string_view payload;
  // kClose: the code (kCloseNoStatus when the frame had none) and reason.
  uint16_t close_code = 0;
  std::string_view close_reason;
};

class Reader {
 public:
  struct Options {
    // A data message (all its fragments) longer than this is an error with
    // kCloseTooBig. Detected from the frame headers, before the bytes arrive.
    size_t max_message_bytes = 16 * 1024 * 1024;
    // A server reads masked client frames; a client reads unmasked ones
    // (RFC 6455 §5.1: either side fails the connection otherwise).
    bool expect_masked = false;
  };
  enum class Status : uint8_t {
    kNeedMore,  // no complete message buffered: Feed more bytes
    kMessage,   // *out holds one message
    kError,     // the stream is broken for good: error_code(), error()
  };

  Reader() : Reader(Options{}) {}
  explicit Reader(const Options& options) : options_(options) {}

  // Appends received bytes (copied).
  void Feed(const char* data, size_t len);
  void Feed(std::string_view bytes) { Feed(bytes.data(), bytes.size()); }
  // The next message, if one is complete. After kError every call returns
  // kError.
  Status Next(Message* out);

  // The close code to send for the error (kCloseProtocolError or
  // kCloseTooBig) and why, in one line ("reserved bits set in a frame ...").
  uint16_t error_code() const { return error_code_; }
  const std::string& error() const { return error_; }
  // Bytes fed but not yet consumed.
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  Status Fail(uint16_t code, std::string message);

  Options options_;
  std::string buf_;  // received bytes; [pos_, end) not yet consumed
  size_t pos_ = 0;
  std::string message_;  // fragments of the data message in progress
  bool in_message_ = false;
  bool message_done_ = false;  // message_ was handed out: clear it at the next Next()
  Message::Kind message_kind_ = Message::Kind::kText;
  uint16_t error_code_ = 0;
  std::string error_;
};

}  // namespace stampede::ws
