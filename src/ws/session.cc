#include "ws/session.h"

#include <openssl/sha.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/base64.h"

namespace stampede::ws {
namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr size_t kMaxResponseHead = 16 * 1024;
constexpr size_t kReadChunk = 16 * 1024;

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// True when the comma-separated header value holds `token` (any case).
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (EqualsNoCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::string Seconds(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", static_cast<double>(ns) / 1e9);
  return buf;
}

}  // namespace

std::string Session::AcceptFor(std::string_view key) {
  std::string text(key);
  text.append(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return core::Base64Encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

Session::Session(loop::EventLoop& loop, net::Resolver& resolver, net::TlsContext* tls,
                 SessionHandler& handler, uint64_t seed)
    : loop_(loop), resolver_(resolver), tls_context_(tls), handler_(handler), rng_(seed) {}

Session::~Session() { Abort(); }

void Session::Start(SessionConfig config) {
  config_ = std::move(config);
  reader_ = Reader(
      Reader::Options{.max_message_bytes = config_.max_message_bytes, .expect_masked = false});
  start_ns_ = loop_.UpdateNow();
  state_ = State::kResolving;
  loop_.Schedule(*this,
                 start_ns_ + std::min(config_.connect_timeout_ns, config_.handshake_timeout_ns));
  // Resolve() never answers from inside itself (not even for an IP literal
  // or a cached name), so no callback runs before Start returns.
  resolver_.Resolve(config_.host, net::Family::kIpv4First, this);
}

void Session::OnResolved(const net::ResolveResult& result) {
  if (state_ != State::kResolving) return;
  if (result.error != net::NetError::kNone) {
    Fail("dns: cannot resolve " + config_.host + ": " + std::string(result.error_text));
    return;
  }
  addresses_ = *result.addresses;
  next_address_ = 0;
  Connect(addresses_.addresses[next_address_++]);
}

void Session::Connect(const net::Address& address) {
  peer_ = address;
  peer_.set_port(config_.port);
  net::NetError err = net::NetError::kNone;
  int sys_errno = 0;
  fd_ = net::StartConnect(peer_, &err, &sys_errno);
  if (fd_ < 0) {
    if (next_address_ < addresses_.count) {
      Connect(addresses_.addresses[next_address_++]);
      return;
    }
    Fail("connect " + peer_.ToString() + ":" + std::to_string(config_.port) + ": " +
         std::string(net::Name(err)) +
         (sys_errno ? std::string(" (") + strerror(sys_errno) + ")" : ""));
    return;
  }
  state_ = State::kConnecting;
  interest_ = loop::kWritable;
  if (!loop_.poller().Add(fd_, interest_, this)) {
    Fail(std::string("cannot watch the socket: ") + strerror(errno));
  }
}

void Session::OnIo(uint32_t events) {
  switch (state_) {
    case State::kConnecting: {
      int sys_errno = 0;
      net::NetError err = net::FinishConnect(fd_, &sys_errno);
      if (err != net::NetError::kNone) {
        Fail("connect " + peer_.ToString() + ":" + std::to_string(config_.port) + ": " +
             std::string(net::Name(err)) +
             (sys_errno ? std::string(" (") + strerror(sys_errno) + ")" : ""));
        return;
      }
      if (config_.tls) {
        if (tls_context_ == nullptr) {
          Fail("wss:// is not available here (no TLS context)");
          return;
        }
        tls_ = std::make_unique<net::TlsSession>(*tls_context_);
        // Offer http/1.1 alone: the upgrade is an HTTP/1.1 request even
        // when the worker's context offers h2 to the HTTP client.
        constexpr std::string_view kAlpnHttp11("\x08http/1.1", 9);
        if (tls_->Start(fd_, config_.host, config_.port, kAlpnHttp11) != net::NetError::kNone) {
          Fail("tls: " + std::string(tls_->error_reason()));
          return;
        }
        state_ = State::kTlsHandshake;
        StepTls();
        return;
      }
      plain_.set_fd(fd_);
      transport_ = &plain_;
      QueueHandshake();
      return;
    }
    case State::kTlsHandshake:
      StepTls();
      return;
    case State::kAwaitingResponse:
    case State::kOpen:
    case State::kClosing:
      if (events & loop::kWritable) Flush();
      if (state_ == State::kClosed) return;
      if ((events & (loop::kReadable | loop::kHangup)) || read_wants_write_) ReadAvailable();
      if (state_ == State::kClosed) return;
      UpdateInterest();
      return;
    default:
      return;
  }
}

void Session::StepTls() {
  net::HandshakeResult r = tls_->HandshakeStep();
  switch (r.step) {
    case net::TlsStep::kWantRead:
    case net::TlsStep::kWantWrite: {
      const uint32_t want = r.step == net::TlsStep::kWantRead ? loop::kReadable : loop::kWritable;
      if (want != interest_) {
        interest_ = want;
        loop_.poller().Modify(fd_, interest_, this);
      }
      return;
    }
    case net::TlsStep::kError:
      Fail(std::string(r.error == net::NetError::kTlsVerify ? "tls verify: " : "tls: ") +
           std::string(tls_->error_reason()));
      return;
    case net::TlsStep::kDone:
      break;
  }
  // A WebSocket upgrade is HTTP/1.1 (RFC 6455); RFC 8441's HTTP/2 form is
  // not spoken here (we offered http/1.1 alone; a server that picks h2
  // anyway is refused).
  if (tls_->alpn() == "h2") {
    Fail("tls: the server chose HTTP/2 by ALPN; WebSockets need HTTP/1.1");
    return;
  }
  tls_transport_ = std::make_unique<net::TlsTransport>(*tls_);
  transport_ = tls_transport_.get();
  QueueHandshake();
}

void Session::QueueHandshake() {
  // The handshake deadline replaces the connect deadline.
  loop_.Schedule(*this, start_ns_ + config_.handshake_timeout_ns);
  std::array<uint8_t, 16> nonce;
  for (size_t i = 0; i < nonce.size(); i += 8) {
    const uint64_t r = rng_();
    std::memcpy(nonce.data() + i, &r, 8);
  }
  key_ = core::Base64Encode(std::string_view(reinterpret_cast<const char*>(nonce.data()), 16));
  out_.append("GET ").append(config_.target).append(" HTTP/1.1\r\nHost: ");
  out_.append(config_.host_header).append("\r\n");
  out_.append(
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: ");
  out_.append(key_).append("\r\n");
  for (const auto& [name, value] : config_.headers) {
    if (EqualsNoCase(name, "host") || EqualsNoCase(name, "upgrade") ||
        EqualsNoCase(name, "connection") || EqualsNoCase(name, "sec-websocket-key") ||
        EqualsNoCase(name, "sec-websocket-version")) {
      continue;
    }
    out_.append(name).append(": ").append(value).append("\r\n");
  }
  out_.append("\r\n");
  state_ = State::kAwaitingResponse;
  Flush();
  if (state_ == State::kClosed) return;
  UpdateInterest();
}

void Session::Flush() {
  while (out_pos_ < out_.size() && transport_ != nullptr) {
    net::IoResult r = transport_->Write(out_.data() + out_pos_, out_.size() - out_pos_);
    if (r.bytes > 0) {
      out_pos_ += r.bytes;
      bytes_sent_ += r.bytes;
      continue;
    }
    if (r.would_block) return;
    Fail("write: " + std::string(net::Name(r.error)) +
         (r.sys_errno ? std::string(" (") + strerror(r.sys_errno) + ")" : ""));
    return;
  }
  out_.clear();
  out_pos_ = 0;
}

void Session::UpdateInterest() {
  if (fd_ < 0 || state_ == State::kClosed) return;
  uint32_t want = loop::kReadable;
  if (out_pos_ < out_.size() || read_wants_write_) want |= loop::kWritable;
  if (want != interest_) {
    interest_ = want;
    loop_.poller().Modify(fd_, interest_, this);
  }
}

void Session::ReadAvailable() {
  char buf[kReadChunk];
  read_wants_write_ = false;
  while (state_ != State::kClosed) {
    net::IoResult r = transport_->Read(buf, sizeof buf);
    if (r.bytes > 0) {
      bytes_received_ += r.bytes;
      OnBytes(buf, r.bytes);
      continue;
    }
    if (r.would_block) {
      read_wants_write_ = r.want_write;
      return;
    }
    if (r.eof) {
      if (state_ == State::kAwaitingResponse) {
        Fail("the server closed the connection before answering the handshake");
      } else if (state_ == State::kClosing) {
        Finish(kCloseAbnormal, {});
      } else {
        Fail("the server closed the connection without a close frame");
      }
      return;
    }
    Fail("read: " + std::string(net::Name(r.error)) +
         (r.sys_errno ? std::string(" (") + strerror(r.sys_errno) + ")" : ""));
    return;
  }
}

void Session::OnBytes(const char* data, size_t len) {
  if (state_ == State::kAwaitingResponse) {
    const size_t old = response_.size();
    response_.append(data, len);
    const size_t end = response_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
    if (end == std::string::npos) {
      if (response_.size() > kMaxResponseHead) {
        Fail("the handshake response head is larger than 16 KiB");
      }
      return;
    }
    const std::string rest = response_.substr(end + 4);
    response_.resize(end + 2);  // keep the last header's CRLF
    if (!ParseResponse()) return;
    reader_.Feed(rest);
  } else {
    reader_.Feed(data, len);
  }
  ProcessFrames();
}

bool Session::ParseResponse() {
  std::string_view head = response_;
  const size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  head.remove_prefix(eol + 2);
  // "HTTP/1.1 101 Switching Protocols"
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ' ||
      !isdigit(static_cast<unsigned char>(status_line[9])) ||
      !isdigit(static_cast<unsigned char>(status_line[10])) ||
      !isdigit(static_cast<unsigned char>(status_line[11]))) {
    Fail("the handshake response is not HTTP (status line \"" +
         std::string(status_line.substr(0, 64)) + "\")");
    return false;
  }
  status_ = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  response_headers_.clear();
  while (!head.empty()) {
    const size_t line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    head.remove_prefix(line_end == std::string_view::npos ? head.size() : line_end + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      Fail("malformed header line in the handshake response");
      return false;
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    response_headers_.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  if (status_ != 101) {
    Fail("the server answered the handshake with status " + std::to_string(status_) +
         " (expected 101 Switching Protocols)");
    return false;
  }
  std::string_view upgrade, connection, accept;
  for (const auto& [name, value] : response_headers_) {
    if (EqualsNoCase(name, "upgrade")) upgrade = value;
    if (EqualsNoCase(name, "connection")) connection = value;
    if (EqualsNoCase(name, "sec-websocket-accept")) accept = value;
  }
  if (!EqualsNoCase(upgrade, "websocket")) {
    Fail("the handshake response has no \"Upgrade: websocket\" header");
    return false;
  }
  if (!HasToken(connection, "upgrade")) {
    Fail("the handshake response has no \"Connection: Upgrade\" header");
    return false;
  }
  if (accept != AcceptFor(key_)) {
    Fail("the handshake response's Sec-WebSocket-Accept \"" + std::string(accept.substr(0, 64)) +
         "\" does not match the key sent");
    return false;
  }
  state_ = State::kOpen;
  open_ns_ = loop_.UpdateNow();
  loop_.Cancel(*this);
  handler_.OnOpen();
  if (state_ != State::kOpen) return false;
  if (!early_.empty()) {
    out_.append(early_);
    early_.clear();
    early_.shrink_to_fit();
    Flush();
  }
  return state_ == State::kOpen || state_ == State::kClosing;
}

void Session::ProcessFrames() {
  while (state_ == State::kOpen || state_ == State::kClosing) {
    Message m;
    const Reader::Status s = reader_.Next(&m);
    if (s == Reader::Status::kNeedMore) return;
    if (s == Reader::Status::kError) {
      Fail(reader_.error(), reader_.error_code());
      return;
    }
    switch (m.kind) {
      case Message::Kind::kPing:
        if (state_ == State::kOpen) {
          AppendClientFrame(Opcode::kPong, m.payload);
          Flush();
          if (state_ == State::kClosed) return;
        }
        handler_.OnMessage(m);
        break;
      case Message::Kind::kClose: {
        const uint16_t code = m.close_code;
        const std::string reason(m.close_reason);
        if (state_ == State::kOpen) {
          // The server closes: echo its code (RFC 6455 5.5.1).
          AppendClientFrame(Opcode::kClose, ClosePayload(code, {}));
          Flush();
          if (state_ == State::kClosed) return;
        }
        Finish(code, reason);
        return;
      }
      default:
        handler_.OnMessage(m);
        break;
    }
  }
}

void Session::AppendClientFrame(Opcode opcode, std::string_view payload) {
  const uint64_t r = rng_();
  std::array<uint8_t, 4> mask;
  std::memcpy(mask.data(), &r, 4);
  AppendFrame(opcode, true, payload, &mask, out_);
}

bool Session::SendData(Opcode opcode, std::string_view payload) {
  if (state_ == State::kOpen) {
    AppendClientFrame(opcode, payload);
    Flush();
    UpdateInterest();
    return true;
  }
  if (state_ == State::kClosing || state_ == State::kClosed || state_ == State::kIdle) return false;
  const uint64_t r = rng_();
  std::array<uint8_t, 4> mask;
  std::memcpy(mask.data(), &r, 4);
  AppendFrame(opcode, true, payload, &mask, early_);
  return true;
}

bool Session::Ping(std::string_view payload) {
  if (payload.size() > kMaxControlPayload) payload = payload.substr(0, kMaxControlPayload);
  return SendData(Opcode::kPing, payload);
}

void Session::Close(uint16_t code, std::string_view reason) {
  if (state_ == State::kClosing || state_ == State::kClosed || state_ == State::kIdle) return;
  if (state_ != State::kOpen) {
    Finish(code, reason);
    return;
  }
  AppendClientFrame(Opcode::kClose, ClosePayload(code, reason));
  state_ = State::kClosing;
  loop_.Schedule(*this, loop_.UpdateNow() + config_.close_timeout_ns);
  Flush();
  if (state_ == State::kClosed) return;
  UpdateInterest();
}

void Session::OnTimer() {
  switch (state_) {
    case State::kResolving:
    case State::kConnecting:
    case State::kTlsHandshake:
      Fail("timeout: no connection within " + Seconds(config_.connect_timeout_ns));
      return;
    case State::kAwaitingResponse:
      Fail("timeout: no handshake response within " + Seconds(config_.handshake_timeout_ns));
      return;
    case State::kClosing:
      // The peer never answered our close frame: end anyway.
      Finish(kCloseAbnormal, {});
      return;
    default:
      return;
  }
}

void Session::Fail(std::string reason, uint16_t close_code) {
  if (state_ == State::kClosed || finishing_) return;
  if (error_.empty()) error_ = std::move(reason);
  if (close_code != 0 && (state_ == State::kOpen || state_ == State::kClosing) &&
      transport_ != nullptr) {
    // Best effort: tell the server why, without waiting for its answer.
    if (state_ == State::kOpen) {
      AppendClientFrame(Opcode::kClose, ClosePayload(close_code, {}));
      while (out_pos_ < out_.size()) {
        net::IoResult r = transport_->Write(out_.data() + out_pos_, out_.size() - out_pos_);
        if (r.bytes == 0) break;
        out_pos_ += r.bytes;
        bytes_sent_ += r.bytes;
      }
    }
  }
  finishing_ = true;
  handler_.OnError(error_);
  finishing_ = false;
  Finish(close_code != 0 ? close_code : kCloseAbnormal, {});
}

void Session::Finish(uint16_t code, std::string_view reason) {
  if (state_ == State::kClosed) return;
  const std::string reason_copy(reason);
  CloseSocket();
  state_ = State::kClosed;
  handler_.OnClosed(code, reason_copy);
}

void Session::CloseSocket() {
  loop_.Cancel(*this);
  resolver_.Cancel(this);
  if (fd_ >= 0) {
    loop_.poller().Remove(fd_);
    if (tls_ != nullptr) {
      if (tls_->handshake_done()) tls_->Shutdown();
      tls_->Reset();
    }
    ::close(fd_);
    fd_ = -1;
  }
  transport_ = nullptr;
  interest_ = 0;
}

void Session::Abort() {
  if (state_ == State::kClosed || state_ == State::kIdle) {
    state_ = State::kClosed;
    return;
  }
  CloseSocket();
  state_ = State::kClosed;
}

}  // namespace stampede::ws
