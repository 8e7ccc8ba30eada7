// `stampede report`: one self-contained HTML file from a run store (schema:
// store/schema.h). Everything the page needs is inlined — uPlot (from
// src/report/html/node_modules, embedded at build time by
// src/report/html/embed.cmake), the page's own script and styles, and the
// run's data — so it opens from file:// with no network.
//
// Every figure comes from store::RunReader (the one result model as stored);
// nothing is aggregated a second time here. The page embeds:
//   - run metadata, thresholds, checks and the per-name table;
//   - one point per second for every time chart (VUs, requests per second,
//     http_req_duration p50/p95/p99, errors by type, dropped iterations,
//     spans_dropped when the run has it);
//   - a bounded sample of requests — the `slowest` slowest, up to
//     `max_failed` failed ones and the slowest request of each second (the
//     exemplars, up to `max_exemplars`) — and the stored spans of those
//     requests' traces only (client phases and the service's spans), so a
//     run of millions of spans still makes a page of a few MB. The page
//     says how the requests were sampled.
//
// Security: names, URLs, span names and attributes come from scripts and
// from the service under test and may be hostile. The data travels as JSON in
// a <script type="application/json"> element with '<', '>', '&', U+2028 and
// U+2029 escaped as \uXXXX (JsonForScriptTag), invalid UTF-8 replaced, and
// the page builds its DOM with textContent / setAttribute only. A
// Content-Security-Policy admits only the page's own two scripts (by hash) and
// no network access.
//
// Thread: any; functions are independent. Cold path.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace stampede::store {
class RunReader;
}

namespace stampede::report {

struct HtmlReportOptions {
  // A link per trace, e.g. "https://grafana.example/explore?traceId={trace_id}"
  // ({trace_id} becomes the percent-encoded trace id). "" for none. Must be an
  // http(s) URL containing {trace_id} (ValidateTraceUrlTemplate).
  std::string trace_url_template;
  size_t slowest = 50;               // slowest requests listed
  size_t max_failed = 500;           // failed requests listed at most
  size_t max_exemplars = 300;        // per-second slowest requests listed at most
  size_t max_spans_per_trace = 300;  // spans embedded per trace at most (earliest first)
  size_t max_attribute_chars = 512;  // longer attribute values are cut (with "…")
  size_t max_error_types = 8;        // error types charted; the rest add up to "other"
};

// Throws core::ConfigError (one line) unless `tmpl` is "" or an http:// or
// https:// URL containing {trace_id}.
void ValidateTraceUrlTemplate(std::string_view tmpl);
// `tmpl` with every {trace_id} replaced by the percent-encoded `trace_id`
// (RFC 3986 unreserved characters kept).
std::string ExpandTraceUrl(std::string_view tmpl, std::string_view trace_id);

// The page's data (the JSON object report.js reads; keys documented there).
nlohmann::json BuildReportData(const store::RunReader& reader, const HtmlReportOptions& options);

// One stored trace as the live dashboard shows it, in the report's shapes:
// {"request": a `requests[]` entry (why: ["exemplar"]) or null, "trace": a
// `traces[id]` entry}. `request_span_id`: the request span to describe; ""
// picks the trace's first CLIENT span that carries http.request.method.
// nullopt when the store holds no span of the trace.
std::optional<nlohmann::json> TraceViewJson(const store::RunReader& reader,
                                            std::string_view trace_id,
                                            std::string_view request_span_id,
                                            const HtmlReportOptions& options);

// `data` as JSON text that is safe inside <script type="application/json">:
// '<', '>', '&', U+2028 and U+2029 as \u003c, \u003e, \u0026, \u2028, \u2029;
// invalid UTF-8 replaced by U+FFFD.
std::string JsonForScriptTag(const nlohmann::json& data);

// The whole page around `data` (the embedded template, styles and scripts).
std::string RenderHtmlPage(const nlohmann::json& data);

// RenderHtmlPage(BuildReportData(reader, options)).
std::string RenderHtmlReport(const store::RunReader& reader, const HtmlReportOptions& options);

}  // namespace stampede::report
