// Microbenchmarks of the HTTP/1.1 codec: ns per parsed response or written
// request. Reported, never gated on.
#include <benchmark/benchmark.h>

#include <string>

#include "http/request_writer.h"
#include "http/response_parser.h"
#include "http/url.h"

namespace stampede::http {
namespace {

// What nginx 1.22 sends for its default index.html: ~250 bytes of head and a
// 612-byte body.
std::string NginxResponse() {
  return "HTTP/1.1 200 OK\r\n"
         "Server: nginx/1.22.1\r\n"
         "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
         "Content-Type: text/html\r\n"
         "Content-Length: 612\r\n"
         "Last-Modified: Tue, 11 Apr 2023 01:45:34 GMT\r\n"
         "Connection: keep-alive\r\n"
         "ETag: \"6434bbbe-264\"\r\n"
         "Accept-Ranges: bytes\r\n"
         "\r\n" +
         std::string(612, 'x');
}

void BM_ParseNginx200(benchmark::State& state) {
  const std::string wire = NginxResponse();
  ResponseParser parser;
  for (auto _ : state) {
    parser.Reset();
    ParseResult r = parser.Feed(wire);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
}
BENCHMARK(BM_ParseNginx200);

void BM_ParseNginx200KeepBodyAndHeaders(benchmark::State& state) {
  const std::string wire = NginxResponse();
  ResponseParser parser;
  ByteBuffer body;
  HeaderList headers;
  for (auto _ : state) {
    parser.Reset({.body = &body, .headers = &headers});
    ParseResult r = parser.Feed(wire);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
}
BENCHMARK(BM_ParseNginx200KeepBodyAndHeaders);

void BM_ParseChunked(benchmark::State& state) {
  std::string wire = "HTTP/1.1 200 OK\r\nServer: nginx\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i) wire += "99\r\n" + std::string(0x99, 'x') + "\r\n";
  wire += "0\r\n\r\n";
  ResponseParser parser;
  for (auto _ : state) {
    parser.Reset();
    ParseResult r = parser.Feed(wire);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ParseChunked);

void BM_WriteGet(benchmark::State& state) {
  RequestWriter writer;
  const Url url = ParseUrl("http://127.0.0.1:8080/index.html?user=42", "bench");
  const Header headers[] = {
      {"Accept", "*/*"},
      {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}};
  ByteBuffer out;
  for (auto _ : state) {
    out.Clear();
    RequestError e = writer.Write("GET", url, headers, {}, out);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_WriteGet);

}  // namespace
}  // namespace stampede::http

BENCHMARK_MAIN();
