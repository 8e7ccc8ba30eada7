// The run store's SQLite schema, version kSchemaVersion (PRAGMA user_version).
// docs/store.md documents every table and column for users who query a run
// with sqlite3; keep the two in step, and bump the version (with a note in
// docs/store.md) on any change a reader could notice.
//
// Units: wall-clock times are Unix epoch nanoseconds (`*_unix_ns`); `second`
// counts whole seconds since the run's start; durations are milliseconds
// (`*_ms`, REAL) except in `point.hist`, which keeps the metric's own unit
// (nanoseconds for time metrics, bytes for data metrics).
#pragma once

#include <string_view>

namespace stampede::store {

inline constexpr int kSchemaVersion = 1;

// Executed once on a new file, inside one transaction.
inline constexpr std::string_view kSchemaSql = R"sql(
CREATE TABLE run (
  run_id           TEXT NOT NULL,
  stampede_version TEXT NOT NULL,
  host             TEXT NOT NULL,
  command_line     TEXT NOT NULL,
  script_path      TEXT,
  script_sha256    TEXT,
  script_source    TEXT,
  target           TEXT,
  options          TEXT NOT NULL,
  thresholds       TEXT NOT NULL,
  start_unix_ns    INTEGER NOT NULL,
  end_unix_ns      INTEGER,
  last_second      INTEGER,
  exit_code        INTEGER,
  outcome          TEXT,
  summary          TEXT
);
CREATE TABLE metric (
  metric_id INTEGER PRIMARY KEY,
  name      TEXT NOT NULL UNIQUE,
  type      TEXT NOT NULL,
  contains  TEXT NOT NULL,
  custom    INTEGER NOT NULL
);
CREATE TABLE series (
  series_id INTEGER PRIMARY KEY,
  metric_id INTEGER NOT NULL REFERENCES metric(metric_id),
  rollup    TEXT NOT NULL,
  tags      TEXT NOT NULL,
  name      TEXT,
  UNIQUE (metric_id, rollup, tags)
);
CREATE TABLE point (
  series_id INTEGER NOT NULL REFERENCES series(series_id),
  second    INTEGER NOT NULL,
  samples   INTEGER NOT NULL,
  value     REAL,
  passes    INTEGER,
  p50 REAL, p90 REAL, p95 REAL, p99 REAL, max REAL,
  hist      BLOB,
  PRIMARY KEY (series_id, second)
) WITHOUT ROWID;
CREATE TABLE threshold (
  metric           TEXT NOT NULL,
  expression       TEXT NOT NULL,
  abort_on_fail    INTEGER NOT NULL,
  passed           INTEGER,
  observed         REAL,
  first_failed_second INTEGER
);
CREATE TABLE check_total (
  check_name TEXT NOT NULL,
  grp        TEXT NOT NULL,
  passes     INTEGER NOT NULL,
  fails      INTEGER NOT NULL
);
CREATE TABLE resource (
  resource_id  INTEGER PRIMARY KEY,
  service_name TEXT,
  attributes   TEXT NOT NULL,
  UNIQUE (attributes)
);
CREATE TABLE span (
  trace_id       TEXT NOT NULL,
  span_id        TEXT NOT NULL,
  parent_span_id TEXT,
  source         TEXT NOT NULL,
  resource_id    INTEGER REFERENCES resource(resource_id),
  scope          TEXT,
  name           TEXT NOT NULL,
  kind           TEXT NOT NULL,
  start_unix_ns  INTEGER NOT NULL,
  end_unix_ns    INTEGER NOT NULL,
  duration_ms    REAL NOT NULL,
  status         TEXT NOT NULL,
  status_message TEXT,
  attributes     TEXT NOT NULL,
  events         TEXT,
  request_name   TEXT,
  method         TEXT,
  url            TEXT,
  http_status    INTEGER,
  error_type     TEXT,
  blocked_ms REAL, dns_ms REAL, connect_ms REAL, tls_ms REAL,
  sending_ms REAL, waiting_ms REAL, receiving_ms REAL,
  PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX span_request_duration ON span(duration_ms) WHERE method IS NOT NULL;
CREATE INDEX span_parent ON span(parent_span_id) WHERE parent_span_id IS NOT NULL;
CREATE TABLE exemplar (
  second      INTEGER NOT NULL,
  name        TEXT NOT NULL,
  trace_id    TEXT NOT NULL,
  span_id     TEXT NOT NULL,
  duration_ms REAL NOT NULL,
  PRIMARY KEY (second, name)
) WITHOUT ROWID;
CREATE TABLE store_stat (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

}  // namespace stampede::store
