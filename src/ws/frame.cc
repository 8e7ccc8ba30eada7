#include "ws/frame.h"

#include <cstring>

namespace stampede::ws {
namespace {

const char* OpcodeName(uint8_t op) {
  switch (op) {
    case 0x0:
      return "continuation";
    case 0x1:
      return "text";
    case 0x2:
      return "binary";
    case 0x8:
      return "close";
    case 0x9:
      return "ping";
    case 0xA:
      return "pong";
  }
  return "unknown";
}

}  // namespace

bool IsValidCloseCode(uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

void AppendFrame(Opcode opcode, bool fin, std::string_view payload,
                 const std::array<uint8_t, 4>* mask, std::string& out) {
  const size_t len = payload.size();
  char head[14];
  size_t n = 0;
  head[n++] = static_cast<char>((fin ? 0x80 : 0x00) | static_cast<uint8_t>(opcode));
  const uint8_t mask_bit = mask != nullptr ? 0x80 : 0x00;
  if (len < 126) {
    head[n++] = static_cast<char>(mask_bit | len);
  } else if (len <= 0xFFFF) {
    head[n++] = static_cast<char>(mask_bit | 126);
    head[n++] = static_cast<char>(len >> 8);
    head[n++] = static_cast<char>(len);
  } else {
    head[n++] = static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) {
      head[n++] = static_cast<char>(static_cast<uint64_t>(len) >> shift);
    }
  }
  if (mask != nullptr) {
    std::memcpy(head + n, mask->data(), 4);
    n += 4;
  }
  out.append(head, n);
  const size_t at = out.size();
  out.append(payload.data(), len);
  if (mask != nullptr) {
    char* p = out.data() + at;
    for (size_t i = 0; i < len; ++i) p[i] = static_cast<char>(p[i] ^ (*mask)[i & 3]);
  }
}

std::string ClosePayload(uint16_t code, std::string_view reason) {
  std::string p;
  if (code == kCloseNoStatus) return p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code));
  p.append(reason.substr(0, kMaxControlPayload - 2));
  return p;
}

void Reader::Feed(const char* data, size_t len) {
  // Consumed bytes go once they are the larger part (amortised O(1) a byte).
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ >= buf_.size() / 2)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data, len);
}

Reader::Status Reader::Fail(uint16_t code, std::string message) {
  error_code_ = code;
  error_ = std::move(message);
  return Status::kError;
}

Reader::Status Reader::Next(Message* out) {
  if (error_code_ != 0) return Status::kError;
  if (message_done_) {
    message_.clear();
    message_done_ = false;
  }
  while (true) {
    const size_t avail = buf_.size() - pos_;
    if (avail < 2) return Status::kNeedMore;
    const auto* p = reinterpret_cast<const uint8_t*>(buf_.data() + pos_);
    const bool fin = (p[0] & 0x80) != 0;
    const uint8_t rsv = p[0] & 0x70;
    const uint8_t op = p[0] & 0x0F;
    const bool masked = (p[1] & 0x80) != 0;
    uint64_t len = p[1] & 0x7F;
    if (rsv != 0) {
      return Fail(kCloseProtocolError,
                  "reserved bits set in a frame header (no extension was negotiated)");
    }
    if (op != 0x0 && op != 0x1 && op != 0x2 && op != 0x8 && op != 0x9 && op != 0xA) {
      return Fail(kCloseProtocolError,
                  "frame with unknown opcode 0x" + std::string(1, "0123456789abcdef"[op]));
    }
    if (masked != options_.expect_masked) {
      return Fail(kCloseProtocolError, masked ? "the server sent a masked frame (RFC 6455 5.1)"
                                              : "the client sent an unmasked frame (RFC 6455 5.1)");
    }
    const bool control = (op & 0x8) != 0;
    if (control && !fin) {
      return Fail(kCloseProtocolError, std::string("fragmented ") + OpcodeName(op) +
                                           " frame (control frames are never fragmented)");
    }
    if (control && len > kMaxControlPayload) {
      return Fail(kCloseProtocolError,
                  std::string(OpcodeName(op)) + " frame with a payload of more than 125 bytes");
    }
    size_t head = 2;
    if (len == 126) {
      if (avail < 4) return Status::kNeedMore;
      len = (static_cast<uint64_t>(p[2]) << 8) | p[3];
      head = 4;
    } else if (len == 127) {
      if (avail < 10) return Status::kNeedMore;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      if (len >> 63) return Fail(kCloseProtocolError, "frame length with the top bit set");
      head = 10;
    }
    if (!control) {
      if (op == 0x0 && !in_message_) {
        return Fail(kCloseProtocolError, "continuation frame without a message to continue");
      }
      if (op != 0x0 && in_message_) {
        return Fail(kCloseProtocolError, std::string("new ") + OpcodeName(op) +
                                             " message before the fragmented one ended");
      }
      const uint64_t total = static_cast<uint64_t>(message_.size()) + len;
      if (total > options_.max_message_bytes) {
        return Fail(kCloseTooBig, "message larger than the maximum message size (" +
                                      std::to_string(options_.max_message_bytes) + " bytes)");
      }
    }
    const size_t mask_len = masked ? 4 : 0;
    if (avail < head + mask_len + len) return Status::kNeedMore;
    char* payload = buf_.data() + pos_ + head + mask_len;
    if (masked) {
      uint8_t key[4];
      std::memcpy(key, buf_.data() + pos_ + head, 4);
      for (uint64_t i = 0; i < len; ++i) payload[i] = static_cast<char>(payload[i] ^ key[i & 3]);
    }
    pos_ += head + mask_len + len;
    const std::string_view data(payload, len);

    if (control) {
      *out = Message{};
      out->payload = data;
      if (op == 0x9) {
        out->kind = Message::Kind::kPing;
      } else if (op == 0xA) {
        out->kind = Message::Kind::kPong;
      } else {
        out->kind = Message::Kind::kClose;
        if (len == 1) return Fail(kCloseProtocolError, "close frame with a 1-byte payload");
        if (len == 0) {
          out->close_code = kCloseNoStatus;
        } else {
          out->close_code = static_cast<uint16_t>((static_cast<uint8_t>(data[0]) << 8) |
                                                  static_cast<uint8_t>(data[1]));
          if (!IsValidCloseCode(out->close_code)) {
            return Fail(kCloseProtocolError,
                        "close frame with invalid code " + std::to_string(out->close_code));
          }
          out->close_reason = data.substr(2);
        }
      }
      return Status::kMessage;
    }
    const Message::Kind kind = op == 0x1   ? Message::Kind::kText
                               : op == 0x2 ? Message::Kind::kBinary
                                           : message_kind_;
    if (fin && !in_message_) {  // a whole message in one frame: no copy
      *out = Message{};
      out->kind = kind;
      out->payload = data;
      return Status::kMessage;
    }
    if (!in_message_) {
      in_message_ = true;
      message_kind_ = kind;
    }
    message_.append(data);
    if (fin) {
      in_message_ = false;
      message_done_ = true;
      *out = Message{};
      out->kind = message_kind_;
      out->payload = message_;
      return Status::kMessage;
    }
  }
}

}  // namespace stampede::ws
