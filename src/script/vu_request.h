// Internal to script/: one HTTP request of a VU's pending operation, with
// what redirects and the response object need. Reused across iterations: its
// strings and buffers keep their capacity, so steady state allocates nothing
// outside Lua's own heap.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "http/byte_buffer.h"
#include "http/client.h"
#include "http/request_writer.h"
#include "http/response_parser.h"
#include "otel/trace_context.h"
#include "script/response_callback.h"
#include "script/vu.h"

namespace stampede::script {

struct Vu::Request final : public http::Exchange {
  explicit Request(Vu& owner) : vu(owner) {}
  void OnComplete() override { vu.OnRequestDone(*this); }

  Vu& vu;
  // What to send (views point into Lua strings anchored on the coroutine's
  // stack, or into the owned strings below).
  std::string method;
  Runtime::TargetRef target;  // shared with the runtime's cache
  std::string_view body_view;
  std::string body_storage;                 // a table body, encoded (JSON or a form)
  std::vector<std::pair<std::string, std::string>> headers;  // the user's (copied)
  std::vector<http::Header> header_views;
  std::string name;                         // params.name; empty: the URL
  std::vector<std::pair<std::string, std::string>> tags;  // params.tags
  int redirects_left = 10;
  // Judges every hop's status (http_req_failed): params.responseCallback, or
  // the VU's. A copy, so the hot path neither calls Lua nor allocates.
  ResponseCallback response_callback;
  bool want_body = true;
  bool done = false;
  // http.batch: started (it may wait for a slot), and the origin of its first
  // hop, whose per-host slot it holds until done (redirects included, as k6).
  bool batch_started = false;
  const http::Origin* batch_host = nullptr;
  http::ByteBuffer bytes;
  http::HeaderList headers_in;
  std::string status_text;                  // the status tag's storage
  // WriteRequest's reuse of `bytes`: a request with none of the user's
  // headers and no body is the same bytes as the last one of this slot when
  // the target and method are, but for the traceparent value (at
  // traceparent_at; npos: none), which is rewritten in place.
  size_t user_headers = 0;  // headers FillRequest took from params or cookies
  Runtime::TargetRef written_target;  // held: its address cannot be reused; null: none
  std::string written_method;
  uint64_t written_generation = 0;  // Runtime::options_generation() then
  size_t written_views = 0;
  size_t traceparent_at = std::string_view::npos;
  // Trace context of this request: its CLIENT span id and the header value.
  otel::TraceId trace_id;
  otel::SpanId span_id;
  otel::SpanId parent_span_id;
  uint8_t trace_flags = 0;
  char traceparent[otel::kTraceparentSize];
};

}  // namespace stampede::script
