// `stampede slow`: the slowest stored request traces of a run, with their
// connection phases and the service's share (store::RunReader::Requests),
// as a text table or JSON.
//
// Cold path; pure apart from reading the file. Throws core::ConfigError with
// one line naming the bad input (a window, a file).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/run_reader.h"

namespace stampede::report {

// [from, to) in Unix epoch nanoseconds.
struct TimeWindow {
  int64_t from_unix_ns = 0;
  int64_t to_unix_ns = 0;
};

// Parses `FROM-TO` where each end is one of
//   - a local wall-clock time HH:MM or HH:MM:SS on the day the run started
//     (local time zone; an end before the start moves to the next day);
//   - an offset from the run's start: a duration such as 90s, 1m30s, 500ms
//     (a bare number is seconds);
//   - an RFC 3339 time: 2024-05-01T14:03:00Z, 2024-05-01T14:03:00.5+02:00.
// Both ends may use different forms. Throws core::ConfigError naming `what`
// (e.g. "--window") and the accepted forms.
TimeWindow ParseTimeWindow(std::string_view text, int64_t run_start_unix_ns,
                           std::string_view what = "--window");

struct SlowQuery {
  double min_ms = 0;
  std::optional<TimeWindow> window{};
  std::optional<std::string> name{};
  size_t limit = 20;
};

std::vector<store::RequestRow> SlowRequests(const store::RunReader& run, const SlowQuery& q);

// A table: one row per request, slowest first, times in ms, "-" for a phase
// the span did not carry. `run_start_unix_ns` gives the +offset column.
std::string FormatSlowText(const std::vector<store::RequestRow>& rows, int64_t run_start_unix_ns);

// A JSON array of objects with stable keys:
//   trace_id, span_id, name, method, url, status (0: no response),
//   error_type (null if none), start (RFC 3339 UTC, ms), start_unix_ns,
//   offset_s (since the run's start), duration_ms, blocked_ms, dns_ms,
//   connect_ms, tls_ms, sending_ms, waiting_ms, receiving_ms, server_ms,
//   outside_ms (null when unknown), service (null when no server span).
std::string FormatSlowJson(const std::vector<store::RequestRow>& rows, int64_t run_start_unix_ns);

// "2024-05-01T14:03:00.123Z"
std::string Rfc3339Utc(int64_t unix_ns);

}  // namespace stampede::report
