// HTTP/2 on a client connection (connection.h), with nghttp2 from Debian:
// framing, HPACK, flow control, SETTINGS and GOAWAY are the library's; what
// is ours is mapping exchanges to streams, their timings and outcomes.
//
// A request arrives as HTTP/1.1 bytes (http/request_writer.h, the same bytes
// the VU's traceparent is written into); SubmitH2 turns its head into an
// HTTP/2 header list (pseudo-headers first, names lower-cased, hop-by-hop
// headers dropped) and sends the rest as the body.
//
// Per-stream timings: send_start when the stream is submitted, send_end when
// its END_STREAM frame is handed to the transport, first_byte at its first
// response HEADERS frame, end when the stream closes. Connection phases (DNS,
// connect, TLS) belong to the exchange that opened the connection.
//
// Outcomes: a stream closed with END_STREAM from the server and a status is
// a response; REFUSED_STREAM (explicit, or past a GOAWAY's last stream id)
// was not processed, so it is sent again once on a new connection and
// counted (Client::requests_retried); any other RST_STREAM code is the
// exchange's error, kStreamReset; a connection-level failure fails every
// stream on it.
#include <cstring>

#include "core/ascii.h"
#include "http/connection.h"

namespace stampede::http {

namespace {

constexpr uint32_t kRead = loop::kReadable;
constexpr uint32_t kWrite = loop::kWritable;
constexpr int kMaxFullReadsPerEvent = 16;
// Streams per connection before the server's SETTINGS arrive (RFC 9113
// recommends servers allow at least 100).
constexpr uint32_t kDefaultStreamLimit = 100;
// Receive windows: large, so that flow control never throttles a load test
// on loopback or a fat pipe (nghttp2 sends WINDOW_UPDATE as data is read).
constexpr int32_t kStreamWindow = 16 * 1024 * 1024;
constexpr int32_t kConnectionWindow = 64 * 1024 * 1024;
// Bytes gathered for one write: many small frames (a turn's requests, their
// WINDOW_UPDATEs) leave in one system call.
constexpr size_t kH2WriteBatch = 64 * 1024;

Exchange* StreamExchange(nghttp2_session* session, int32_t stream_id) {
  return static_cast<Exchange*>(nghttp2_session_get_stream_user_data(session, stream_id));
}

// RFC 9113 8.2.2: connection-specific header fields are not sent over h2.
// `name` is lower case already.
bool HopByHop(std::string_view name, std::string_view value) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade" ||
         (name == "te" && !core::EqualsIgnoreCase(value, "trailers"));
}

nghttp2_nv Nv(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

uint32_t Connection::StreamLimit() const {
  uint32_t limit = client_.options_.max_streams_per_connection;
  if (!client_.options_.reuse_connections) return 1;
  uint32_t server = h2_ != nullptr ? nghttp2_session_get_remote_settings(
                                         h2_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
                                   : kDefaultStreamLimit;
  if (limit == 0 || server < limit) limit = server;
  return limit == 0 ? 1 : limit;
}

bool Connection::CanTakeStream() const {
  if (!h2_wanted_ || h2_goaway_) return false;
  if (state_ != State::kH2 && state_ != State::kResolving && state_ != State::kConnecting &&
      state_ != State::kHandshaking) {
    return false;
  }
  size_t in_use = h2_active_.size() + (ex_ != nullptr ? 1 : 0);
  return in_use < StreamLimit();
}

void Connection::AttachH2(Exchange& ex) {
  ex.conn_ = this;
  ex.peer = peer_;
  h2_active_.push_back(&ex);
  if (state_ == State::kH2) SubmitH2(ex);  // else sent by StartH2
}

std::vector<Exchange*> Connection::TakePending() {
  std::vector<Exchange*> pending;
  if (state_ == State::kH2) return pending;
  pending.swap(h2_active_);
  for (Exchange* e : pending) e->conn_ = nullptr;
  return pending;
}

void Connection::LeaveH2List() {
  if (!in_h2_list_ || origin_ == nullptr) return;
  in_h2_list_ = false;
  std::vector<Connection*>& list = origin_->h2;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i] == this) {
      list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
  }
}

void Connection::StartH2() {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_option* option = nullptr;
  int rv = nghttp2_session_callbacks_new(&callbacks);
  if (rv == 0) rv = nghttp2_option_new(&option);
  if (rv == 0) {
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &OnDataChunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &OnFrameRecv);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &OnFrameSend);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, &OnFrameNotSend);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &OnStreamClose);
    if (!client_.h2_memory_) client_.h2_memory_ = std::make_unique<H2Memory>();
    rv = nghttp2_session_client_new3(&h2_, callbacks, this, option, client_.h2_memory_->mem());
  }
  if (callbacks != nullptr) nghttp2_session_callbacks_del(callbacks);
  if (option != nullptr) nghttp2_option_del(option);
  if (rv == 0) {
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
    };
    rv = nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, settings, 2);
  }
  if (rv == 0) {
    rv = nghttp2_session_set_local_window_size(h2_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  }
  if (rv != 0) {
    Fail(net::NetError::kOther, nghttp2_strerror(rv));
    return;
  }
  Exchange& first = *ex_;
  client_.DisarmConnectTimeout(first);
  if (established_ns_ == 0) established_ns_ = client_.loop_.Now();
  ex_ = nullptr;
  state_ = State::kH2;
  SetInterest(kRead);
  // The opening exchange first (stream 1), then those that waited for it.
  h2_active_.insert(h2_active_.begin(), &first);
  std::vector<Exchange*> submit = h2_active_;  // SubmitH2 may drop a failed one
  for (Exchange* e : submit) SubmitH2(*e);
  client_.OfferStreams(*this);
  FlushH2();
}

bool Connection::BuildH2Request(Exchange& ex, std::string* error) {
  std::string_view req = ex.request_bytes;
  size_t head_end = req.find("\r\n\r\n");
  size_t line_end = req.find("\r\n");
  if (head_end == std::string_view::npos || line_end == std::string_view::npos) {
    *error = "malformed request head";
    return false;
  }
  std::string_view line = req.substr(0, line_end);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 <= sp1) {
    *error = "malformed request line";
    return false;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  ex.h2_body_ = req.substr(head_end + 4);

  // Lower-cased names go into one buffer, sized before any view is taken.
  h2_names_.assign(req.data() + line_end + 2, head_end - line_end - 2);
  for (char& c : h2_names_) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::string_view authority;
  h2_nv_.clear();
  h2_nv_.push_back(Nv(":method", method));
  h2_nv_.push_back(Nv(":scheme", origin_->tls ? "https" : "http"));
  h2_nv_.push_back(Nv(":authority", ""));  // filled below from Host
  h2_nv_.push_back(Nv(":path", path));
  std::string_view lower(h2_names_);
  std::string_view orig = req.substr(line_end + 2, head_end - line_end - 2);
  size_t at = 0;
  while (at < lower.size()) {
    size_t eol = lower.find("\r\n", at);
    if (eol == std::string_view::npos) eol = lower.size();
    size_t colon = lower.find(':', at);
    if (colon == std::string_view::npos || colon > eol) {
      *error = "malformed request header";
      return false;
    }
    std::string_view name = lower.substr(at, colon - at);
    size_t v = colon + 1;
    while (v < eol && (orig[v] == ' ' || orig[v] == '\t')) ++v;
    size_t ve = eol;
    while (ve > v && (orig[ve - 1] == ' ' || orig[ve - 1] == '\t')) --ve;
    std::string_view value = orig.substr(v, ve - v);  // values keep their case
    if (name == "host") {
      authority = value;
    } else if (!HopByHop(name, value)) {
      h2_nv_.push_back(Nv(name, value));
    }
    at = eol + 2;
  }
  if (authority.empty()) {
    *error = "request without Host";
    return false;
  }
  h2_nv_[2] = Nv(":authority", authority);
  return true;
}

void Connection::SubmitH2(Exchange& ex) {
  ex.http_version = 20;
  ex.peer = peer_;
  ex.h2_end_stream_ = false;
  ex.h2_informational_ = false;
  ex.h2_refused_ = false;
  ex.h2_rst_ = false;
  ex.h2_done_queued_ = false;
  ex.h2_error_code_ = 0;
  if (ex.response_headers != nullptr) ex.response_headers->Clear();
  ex.timings.send_start_ns = client_.loop_.UpdateNow();
  std::string error;
  int32_t id = -1;
  if (BuildH2Request(ex, &error)) {
    nghttp2_data_provider body{};
    body.source.ptr = &ex;
    body.read_callback = &ReadBody;
    id = nghttp2_submit_request(h2_, nullptr, h2_nv_.data(), h2_nv_.size(),
                                ex.h2_body_.empty() ? nullptr : &body, &ex);
    if (id < 0) error = nghttp2_strerror(id);
  }
  if (id < 0) {
    for (size_t i = 0; i < h2_active_.size(); ++i) {
      if (h2_active_[i] != &ex) continue;
      h2_active_.erase(h2_active_.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
    client_.FailLater(ex, net::NetError::kOther, "cannot send over HTTP/2: " + error);
    return;
  }
  ex.h2_stream_id_ = id;
  if (!h2_in_io_) client_.loop_.Post(*this);  // one flush per loop turn
}

void Connection::Run() {
  if (state_ == State::kH2 && !h2_in_io_) {
    FlushH2();
    DeliverH2();
  }
}

void Connection::DetachH2(Exchange& ex) {
  for (size_t i = 0; i < h2_active_.size(); ++i) {
    if (h2_active_[i] != &ex) continue;
    h2_active_.erase(h2_active_.begin() + static_cast<std::ptrdiff_t>(i));
    break;
  }
  for (Exchange*& e : h2_done_) {
    if (e == &ex) e = nullptr;
  }
  ex.conn_ = nullptr;
  if (state_ == State::kH2 && h2_ != nullptr && ex.h2_stream_id_ > 0) {
    nghttp2_session_set_stream_user_data(h2_, ex.h2_stream_id_, nullptr);
    nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, ex.h2_stream_id_, NGHTTP2_CANCEL);
    if (!h2_in_io_) client_.loop_.Post(*this);
  }
  ex.h2_stream_id_ = 0;
}

void Connection::FailAllH2(net::NetError error, std::string_view detail) {
  std::string why(detail);  // `detail` may point into nghttp2 or the TLS session
  std::vector<Exchange*> failed;
  failed.swap(h2_active_);
  for (Exchange* e : h2_done_) {
    if (e != nullptr && e->conn_ == this) failed.push_back(e);
  }
  h2_done_.clear();
  Close();
  client_.ConnectionClosed(*this);
  for (Exchange* e : failed) {
    e->h2_stream_id_ = 0;
    client_.FailLater(*e, error, why);
  }
}

void Connection::OnIoH2(uint32_t events) {
  h2_in_io_ = true;
  bool alive = true;
  if ((events & kWrite) != 0 && (h2_out_len_ > 0 || h2_woff_ < h2_wbuf_.size())) {
    FlushH2();
    alive = state_ == State::kH2;
  }
  if (alive && (events & (kRead | loop::kHangup)) != 0) alive = ReadH2();
  h2_in_io_ = false;
  if (!alive) return;
  DeliverH2();
  if (state_ == State::kH2) FlushH2();
  if (state_ == State::kH2) DeliverH2();  // streams a flush closed (not sent)
  if (state_ == State::kH2 && nghttp2_session_want_read(h2_) == 0 &&
      nghttp2_session_want_write(h2_) == 0) {
    // Our side ended the session (the server broke the protocol: a bad
    // frame, a frame too large): what is still open cannot finish.
    if (h2_active_.empty()) {
      Close();
      client_.ConnectionClosed(*this);
    } else {
      FailAllH2(net::NetError::kProtocol, "HTTP/2 session ended: the server broke the protocol");
    }
  }
}

bool Connection::ReadH2() {
  std::vector<char>& buf = client_.read_buffer_;
  int full_reads = 0;
  while (true) {
    net::IoResult r = TransportRead(buf.data(), buf.size());
    if (r.bytes > 0) {
      ssize_t rv = nghttp2_session_mem_recv(h2_, reinterpret_cast<const uint8_t*>(buf.data()),
                                            r.bytes);
      if (rv < 0) {
        FailAllH2(net::NetError::kProtocol,
                  std::string("HTTP/2: ") + nghttp2_strerror(static_cast<int>(rv)));
        return false;
      }
      if (uses_tls_ && tls_->HasBufferedData()) continue;
      if (r.bytes == buf.size() && ++full_reads < kMaxFullReadsPerEvent) continue;
      return true;
    }
    if (r.would_block) return true;
    if (r.eof) {
      // Streams the server finished are delivered (requests their VUs send
      // next go elsewhere); the rest end with the connection (those past a
      // GOAWAY were refused and went elsewhere already).
      h2_goaway_ = true;
      LeaveH2List();
      DeliverH2();
      if (state_ != State::kH2) return false;
      if (h2_active_.empty()) {
        Close();
        client_.ConnectionClosed(*this);
      } else {
        FailAllH2(net::NetError::kClosed, "connection closed mid-stream");
      }
      return false;
    }
    FailAllH2(r.error, "read failed");
    return false;
  }
}

void Connection::FlushH2() {
  if (h2_wbuf_.capacity() < kH2WriteBatch) h2_wbuf_.reserve(kH2WriteBatch);  // once
  while (state_ == State::kH2) {
    if (h2_woff_ == h2_wbuf_.size()) {
      h2_wbuf_.clear();
      h2_woff_ = 0;
    }
    while (h2_wbuf_.size() < kH2WriteBatch) {
      if (h2_out_len_ == 0) {
        const uint8_t* data = nullptr;
        ssize_t n = nghttp2_session_mem_send(h2_, &data);
        if (n < 0) {
          FailAllH2(net::NetError::kProtocol,
                    std::string("HTTP/2: ") + nghttp2_strerror(static_cast<int>(n)));
          return;
        }
        if (n == 0) break;
        h2_out_ = data;
        h2_out_len_ = static_cast<size_t>(n);
      }
      size_t take = std::min(h2_out_len_, kH2WriteBatch - h2_wbuf_.size());
      h2_wbuf_.append(reinterpret_cast<const char*>(h2_out_), take);
      h2_out_ += take;
      h2_out_len_ -= take;
    }
    if (h2_woff_ == h2_wbuf_.size()) break;  // nothing to write
    net::IoResult r = TransportWrite(h2_wbuf_.data() + h2_woff_, h2_wbuf_.size() - h2_woff_);
    if (r.bytes > 0) {
      h2_woff_ += r.bytes;
      continue;
    }
    if (r.would_block) {
      SetInterest(kRead | kWrite);
      return;
    }
    FailAllH2(r.ok() ? net::NetError::kClosed : r.error, "write failed");
    return;
  }
  if (state_ != State::kH2) return;
  SetInterest(kRead);
  AfterStreamsH2();
}

void Connection::DeliverH2() {
  while (!h2_done_.empty() && state_ == State::kH2) {
    h2_delivering_.swap(h2_done_);
    for (Exchange* ex : h2_delivering_) {
      if (ex == nullptr) continue;
      for (size_t i = 0; i < h2_active_.size(); ++i) {
        if (h2_active_[i] != ex) continue;
        h2_active_.erase(h2_active_.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
      ex->conn_ = nullptr;
      ex->h2_stream_id_ = 0;
      if (ex->h2_refused_ && !ex->retried_unprocessed) {
        // Not processed by the server: once more, elsewhere.
        ++client_.requests_retried_;
        ex->retried_unprocessed = true;
        ex->status = 0;
        ex->bytes_sent = 0;
        ex->bytes_received = 0;
        ex->body.clear();
        ex->body_truncated = false;
        ex->timings.send_start_ns = ex->timings.send_end_ns = ex->timings.first_byte_ns = 0;
        client_.Route(*ex);
        continue;
      }
      ex->timings.end_ns = client_.loop_.UpdateNow();
      if (ex->h2_refused_) {
        ex->error = net::NetError::kStreamReset;
        ex->error_detail = "HTTP/2 stream refused twice (REFUSED_STREAM)";
      } else if (ex->h2_error_code_ != NGHTTP2_NO_ERROR && ex->h2_rst_) {
        ex->error = net::NetError::kStreamReset;
        ex->error_detail = std::string("HTTP/2 stream reset by the server: ") +
                           nghttp2_http2_strerror(ex->h2_error_code_);
      } else if (ex->h2_error_code_ != NGHTTP2_NO_ERROR) {
        // Closed by our side of the session: the server broke the protocol.
        ex->error = net::NetError::kProtocol;
        ex->error_detail = std::string("HTTP/2 stream closed: ") +
                           nghttp2_http2_strerror(ex->h2_error_code_);
      } else if (!ex->h2_end_stream_ || ex->status == 0) {
        ex->error = net::NetError::kProtocol;
        ex->error_detail = "HTTP/2 stream closed without a complete response";
      }
      if (ex->timings.send_end_ns == 0) ex->timings.send_end_ns = ex->timings.first_byte_ns;
      ++served_;
      client_.Complete(*ex);  // the VU may send again: it joins this turn's flush
      if (state_ != State::kH2) break;
    }
    h2_delivering_.clear();
  }
}

void Connection::AfterStreamsH2() {
  if (!h2_active_.empty() || h2_out_len_ > 0 || h2_woff_ < h2_wbuf_.size()) {
    client_.OfferStreams(*this);
    return;
  }
  const bool done = h2_goaway_ || !client_.options_.reuse_connections ||
                    (nghttp2_session_want_read(h2_) == 0 && nghttp2_session_want_write(h2_) == 0);
  if (done) {
    Close();
    client_.ConnectionClosed(*this);
    return;
  }
  client_.OfferStreams(*this);
}

// ------------------------------------------------------- nghttp2 callbacks

int Connection::OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* self) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  Exchange* ex = StreamExchange(session, frame->hd.stream_id);
  if (ex == nullptr) return 0;
  auto* conn = static_cast<Connection*>(self);
  if (ex->timings.first_byte_ns == 0) ex->timings.first_byte_ns = conn->client_.loop_.Now();
  return 0;
}

int Connection::OnHeader(nghttp2_session* session, const nghttp2_frame* frame,
                         const uint8_t* name, size_t namelen, const uint8_t* value,
                         size_t valuelen, uint8_t, void*) {
  Exchange* ex = StreamExchange(session, frame->hd.stream_id);
  if (ex == nullptr) return 0;
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    int status = 0;
    for (char c : v) status = status * 10 + (c - '0');  // nghttp2 checked: 3 digits
    ex->h2_informational_ = status < 200;
    if (!ex->h2_informational_) ex->status = status;
    return 0;
  }
  if (ex->h2_informational_ || n.empty() || n[0] == ':') return 0;
  if (ex->response_headers != nullptr) ex->response_headers->Add(n, v);
  return 0;
}

int Connection::OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id,
                            const uint8_t* data, size_t len, void*) {
  Exchange* ex = StreamExchange(session, stream_id);
  if (ex == nullptr) return 0;
  if (ex->keep_body_bytes > ex->body.size()) {
    size_t keep = std::min(len, ex->keep_body_bytes - ex->body.size());
    ex->body.append(reinterpret_cast<const char*>(data), keep);
    if (keep < len) ex->body_truncated = true;
  } else if (ex->keep_body_bytes > 0) {
    ex->body_truncated = true;
  }
  return 0;
}

int Connection::OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* self) {
  auto* conn = static_cast<Connection*>(self);
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    // No new streams here; streams past last_stream_id close as refused.
    conn->h2_goaway_ = true;
    conn->LeaveH2List();
    return 0;
  }
  if (frame->hd.stream_id == 0) return 0;
  Exchange* ex = StreamExchange(session, frame->hd.stream_id);
  if (ex == nullptr) return 0;
  ex->bytes_received += frame->hd.length + 9;
  if (frame->hd.type == NGHTTP2_RST_STREAM) ex->h2_rst_ = true;
  if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    ex->h2_end_stream_ = true;
  }
  return 0;
}

int Connection::OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* self) {
  if (frame->hd.stream_id == 0) return 0;
  Exchange* ex = StreamExchange(session, frame->hd.stream_id);
  if (ex == nullptr) return 0;
  ex->bytes_sent += frame->hd.length + 9;
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 &&
      (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS)) {
    ex->timings.send_end_ns = static_cast<Connection*>(self)->client_.loop_.UpdateNow();
  }
  return 0;
}

int Connection::OnFrameNotSend(nghttp2_session* session, const nghttp2_frame* frame, int,
                               void* self) {
  // A request the session would not start (after GOAWAY, or past the stream
  // ids): it never reached the server.
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  Exchange* ex = StreamExchange(session, frame->hd.stream_id);
  if (ex == nullptr) return 0;
  ex->h2_refused_ = true;
  auto* conn = static_cast<Connection*>(self);
  if (!ex->h2_done_queued_) {
    ex->h2_done_queued_ = true;
    conn->h2_done_.push_back(ex);
  }
  return 0;
}

int Connection::OnStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                              void* self) {
  Exchange* ex = StreamExchange(session, stream_id);
  if (ex == nullptr) return 0;
  ex->h2_error_code_ = error_code;
  if (error_code == NGHTTP2_REFUSED_STREAM) ex->h2_refused_ = true;
  auto* conn = static_cast<Connection*>(self);
  if (!ex->h2_done_queued_) {
    ex->h2_done_queued_ = true;
    conn->h2_done_.push_back(ex);
  }
  return 0;
}

ssize_t Connection::ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                             uint32_t* flags, nghttp2_data_source* source, void*) {
  auto* ex = static_cast<Exchange*>(source->ptr);
  size_t n = std::min(length, ex->h2_body_.size());
  std::memcpy(buf, ex->h2_body_.data(), n);
  ex->h2_body_.remove_prefix(n);
  if (ex->h2_body_.empty()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

// ---------------------------------------------------------------- Client

void Client::OfferStreams(Connection& conn) {
  Origin& origin = *conn.origin_;
  while (Exchange* waiter = origin.wait_head) {
    if (waiter->pool_key != conn.pool_key_ || !WantsH2(origin, *waiter) ||
        !conn.CanTakeStream()) {
      return;
    }
    origin.wait_head = waiter->next_waiting_;
    if (origin.wait_head == nullptr) origin.wait_tail = nullptr;
    waiter->next_waiting_ = nullptr;
    waiter->timings.conn_acquired_ns = loop_.Now();
    conn.AttachH2(*waiter);
  }
}

}  // namespace stampede::http
