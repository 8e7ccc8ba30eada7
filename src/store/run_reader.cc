#include "store/run_reader.h"

#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "store/hist_blob.h"
#include "store/schema.h"
#include "store/sqlite_util.h"

namespace stampede::store {
namespace {

constexpr const char* kPointsOf =
    "FROM point p JOIN series s ON s.series_id = p.series_id "
    "JOIN metric m ON m.metric_id = s.metric_id ";

}  // namespace

class RunReader::Impl {
 public:
  explicit Impl(const std::string& path);
  ~Impl() { sqlite3_close(db_); }
  void Open(const std::string& path);

  Stmt Prepare(std::string_view sql) const {
    Stmt st(db_, sql);
    if (!st.ok()) {
      throw core::ConfigError(path_ + ": cannot read the run store: " + sqlite3_errmsg(db_));
    }
    return st;
  }
  // The metric's row: type and unit factor to ms (time) or 1.
  std::optional<MetricInfo> Metric(std::string_view name) const {
    Stmt st = Prepare("SELECT name, type, contains, custom FROM metric WHERE name = ?");
    st.Bind(1, name);
    if (st.Step() != SQLITE_ROW) return std::nullopt;
    return MetricInfo{st.Text(0), st.Text(1), st.Text(2), st.Int(3) != 0};
  }
  int64_t ToSecond(int64_t to_second) const {
    return to_second < 0 ? meta.last_second + 1 : to_second;
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  RunMeta meta;
};

RunReader::Impl::Impl(const std::string& path) : path_(path) {
  // Every refusal closes what it opened (LeakSanitizer, in the asan preset:
  // a throwing constructor runs no destructor).
  try {
    Open(path);
  } catch (...) {
    sqlite3_close_v2(db_);  // _v2: closes once live statements are finalized
    db_ = nullptr;
    throw;
  }
}

void RunReader::Impl::Open(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw core::ConfigError(path + ": no such file (a run store is written by --out sqlite=PATH)");
  }
  if (std::filesystem::is_directory(path, ec)) {
    throw core::ConfigError(path + ": is a directory, not a run store file");
  }
  // Read-only first. A killed run leaves a -wal file: reading it needs the
  // -shm index, which a read-only connection may not be able to create; then
  // open read-write (never creating anything) with query_only set.
  auto try_open = [&](const std::string& name, int flags, std::string& why) -> bool {
    sqlite3_close(db_);
    db_ = nullptr;
    if (sqlite3_open_v2(name.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      return false;
    }
    sqlite3_busy_timeout(db_, 2000);
    Stmt st(db_, "PRAGMA user_version");
    const int rc = st.ok() ? st.Step() : st.prepare_rc();
    if (rc == SQLITE_ROW) return true;
    why = sqlite3_errmsg(db_);
    if ((rc & 0xFF) == SQLITE_NOTADB) {
      throw core::ConfigError(path +
                              ": not a SQLite file (expected a run store written by "
                              "--out sqlite=PATH)");
    }
    return false;
  };
  std::string why;
  // A finished run is one file (no -wal): open it immutable, so reading it
  // leaves no -wal/-shm behind and takes no locks. A running or killed run
  // has a -wal and is opened normally.
  bool opened = false;
  if (!std::filesystem::exists(path + "-wal", ec)) {
    std::string uri = "file:";
    for (char c : path) {
      if (c == '%' || c == '?' || c == '#') {
        static constexpr char kHex[] = "0123456789ABCDEF";
        uri += '%';
        uri += kHex[static_cast<uint8_t>(c) >> 4];
        uri += kHex[static_cast<uint8_t>(c) & 0xF];
      } else {
        uri += c;
      }
    }
    uri += "?immutable=1";
    std::string ignored;
    opened = try_open(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, ignored);
  }
  if (!opened && !try_open(path, SQLITE_OPEN_READONLY, why)) {
    std::string why_rw;
    if (!try_open(path, SQLITE_OPEN_READWRITE, why_rw)) {
      sqlite3_close(db_);
      db_ = nullptr;
      throw core::ConfigError(path + ": cannot open the run store: " + why);
    }
    sqlite3_exec(db_, "PRAGMA query_only=1", nullptr, nullptr, nullptr);
  }
  int64_t version = 0;
  {
    Stmt st(db_, "PRAGMA user_version");
    if (st.ok() && st.Step() == SQLITE_ROW) version = st.Int(0);
  }
  if (version > kSchemaVersion) {
    throw core::ConfigError(path + ": written by a newer stampede (store schema " +
                            std::to_string(version) + ", this stampede reads up to " +
                            std::to_string(kSchemaVersion) + "); upgrade stampede to read it");
  }
  Stmt st(db_,
          "SELECT run_id, stampede_version, host, command_line, script_path, script_sha256, "
          "script_source, target, options, thresholds, start_unix_ns, end_unix_ns, last_second, "
          "exit_code, outcome, summary FROM run");
  if (version < 1 || !st.ok() || st.Step() != SQLITE_ROW) {
    throw core::ConfigError(path +
                            ": a SQLite file but not a stampede run store (no run row, "
                            "store schema " +
                            std::to_string(version) + ")");
  }
  meta.run_id = st.Text(0);
  meta.stampede_version = st.Text(1);
  meta.host = st.Text(2);
  meta.command_line = st.Text(3);
  meta.script_path = st.Text(4);
  meta.script_sha256 = st.Text(5);
  meta.script_source = st.Text(6);
  meta.target = st.Text(7);
  meta.options_json = st.Text(8);
  meta.thresholds_json = st.Text(9);
  meta.start_unix_ns = st.Int(10);
  if (!st.IsNull(11)) meta.end_unix_ns = st.Int(11);
  meta.last_second = st.IsNull(12) ? -1 : st.Int(12);
  if (!st.IsNull(13)) meta.exit_code = static_cast<int>(st.Int(13));
  meta.outcome = st.Text(14);
  meta.summary_json = st.Text(15);
}

RunReader::RunReader(const std::string& path) : impl_(std::make_unique<Impl>(path)) {}
RunReader::~RunReader() = default;

const RunMeta& RunReader::meta() const { return impl_->meta; }
int64_t RunReader::seconds() const { return impl_->meta.last_second + 1; }

std::vector<MetricInfo> RunReader::Metrics() const {
  std::vector<MetricInfo> out;
  Stmt st = impl_->Prepare("SELECT name, type, contains, custom FROM metric ORDER BY name");
  while (st.Step() == SQLITE_ROW) {
    out.push_back(MetricInfo{st.Text(0), st.Text(1), st.Text(2), st.Int(3) != 0});
  }
  return out;
}

std::vector<ThresholdRow> RunReader::Thresholds() const {
  std::vector<ThresholdRow> out;
  Stmt st = impl_->Prepare(
      "SELECT metric, expression, abort_on_fail, passed, observed, first_failed_second "
      "FROM threshold ORDER BY rowid");
  while (st.Step() == SQLITE_ROW) {
    ThresholdRow r;
    r.metric = st.Text(0);
    r.expression = st.Text(1);
    r.abort_on_fail = st.Int(2) != 0;
    if (!st.IsNull(3)) r.passed = st.Int(3) != 0;
    r.observed = st.OptDouble(4);
    r.first_failed_second = st.OptInt(5);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<CheckRow> RunReader::Checks() const {
  std::vector<CheckRow> out;
  Stmt st = impl_->Prepare("SELECT check_name, grp, passes, fails FROM check_total ORDER BY rowid");
  while (st.Step() == SQLITE_ROW) {
    out.push_back(CheckRow{st.Text(0), st.Text(1), static_cast<uint64_t>(st.Int(2)),
                           static_cast<uint64_t>(st.Int(3))});
  }
  return out;
}

std::vector<std::string> RunReader::RequestNames() const {
  std::vector<std::string> out;
  Stmt st = impl_->Prepare(
      "SELECT DISTINCT s.name FROM series s JOIN metric m ON m.metric_id = s.metric_id "
      "WHERE m.name = 'http_req_duration' AND s.rollup = 'name' ORDER BY s.name");
  while (st.Step() == SQLITE_ROW) out.push_back(st.Text(0));
  return out;
}

std::vector<PointRow> RunReader::Points(std::string_view metric,
                                        std::optional<std::string_view> name) const {
  std::vector<PointRow> out;
  Stmt st = impl_->Prepare(
      std::string("SELECT p.second, p.samples, p.value, p.passes, p.p50, p.p90, p.p95, p.p99, "
                  "p.max ") +
      kPointsOf +
      "WHERE m.name = ?1 AND s.rollup = ?2 AND (?3 IS NULL OR s.name = ?3) "
      "AND (p.samples > 0 OR m.type = 'gauge') ORDER BY p.second");
  st.Bind(1, metric).Bind(2, name ? "name" : "metric");
  if (name) {
    st.Bind(3, *name);
  } else {
    st.BindNull(3);
  }
  while (st.Step() == SQLITE_ROW) {
    PointRow r;
    r.second = st.Int(0);
    r.samples = static_cast<uint64_t>(st.Int(1));
    r.value = st.Double(2);
    r.passes = static_cast<uint64_t>(st.Int(3));
    r.p50 = st.Double(4);
    r.p90 = st.Double(5);
    r.p95 = st.Double(6);
    r.p99 = st.Double(7);
    r.max = st.Double(8);
    out.push_back(r);
  }
  return out;
}

std::optional<metrics::ExpHistogram> RunReader::WindowHistogram(
    std::string_view metric, std::optional<std::string_view> name, int64_t from_second,
    int64_t to_second) const {
  Stmt st = impl_->Prepare(std::string("SELECT p.hist ") + kPointsOf +
                           "WHERE m.name = ?1 AND m.type = 'trend' AND s.rollup = ?2 "
                           "AND (?3 IS NULL OR s.name = ?3) AND p.second >= ?4 AND p.second < ?5 "
                           "AND p.hist IS NOT NULL ORDER BY p.second");
  st.Bind(1, metric).Bind(2, name ? "name" : "metric");
  if (name) {
    st.Bind(3, *name);
  } else {
    st.BindNull(3);
  }
  st.Bind(4, from_second).Bind(5, impl_->ToSecond(to_second));
  std::optional<metrics::ExpHistogram> out;
  while (st.Step() == SQLITE_ROW) {
    auto h = DecodeHistBlob(st.Blob(0));
    if (!h) {
      throw core::ConfigError(impl_->path_ + ": a corrupt histogram in metric " +
                              std::string(metric) + "; the file is damaged");
    }
    if (h->count() == 0) continue;
    if (out) {
      out->Merge(*h);
    } else {
      out = std::move(h);
    }
  }
  return out;
}

TrendStats RunReader::WindowTrend(std::string_view metric, std::optional<std::string_view> name,
                                  int64_t from_second, int64_t to_second) const {
  TrendStats t;
  auto h = WindowHistogram(metric, name, from_second, to_second);
  if (!h) return t;
  auto info = impl_->Metric(metric);
  const double unit = info && info->contains == "time" ? 1e-6 : 1.0;
  t.count = h->count();
  t.avg = h->Mean() * unit;
  t.min = h->min() * unit;
  t.med = h->Quantile(0.5) * unit;
  t.p90 = h->Quantile(0.9) * unit;
  t.p95 = h->Quantile(0.95) * unit;
  t.p99 = h->Quantile(0.99) * unit;
  t.max = h->max() * unit;
  return t;
}

std::vector<NameRow> RunReader::PerName(int64_t from_second, int64_t to_second) const {
  const int64_t to = impl_->ToSecond(to_second);
  std::map<std::string, NameRow> rows;
  Stmt st = impl_->Prepare(std::string("SELECT s.name, m.name, SUM(p.value), SUM(p.passes) ") +
                           kPointsOf +
                           "WHERE s.rollup = 'name' AND m.name IN ('http_reqs', "
                           "'http_req_failed', 'http_req_duration') AND p.second >= ? AND "
                           "p.second < ? GROUP BY s.name, m.name");
  st.Bind(1, from_second).Bind(2, to);
  while (st.Step() == SQLITE_ROW) {
    NameRow& r = rows[st.Text(0)];
    r.name = st.Text(0);
    const std::string metric = st.Text(1);
    if (metric == "http_reqs") r.requests = static_cast<uint64_t>(std::llround(st.Double(2)));
    if (metric == "http_req_failed") r.failed = static_cast<uint64_t>(st.Int(3));
  }
  const double window = static_cast<double>(std::max<int64_t>(to - from_second, 1));
  std::vector<NameRow> out;
  for (auto& [name, r] : rows) {
    r.duration = WindowTrend("http_req_duration", name, from_second, to_second);
    r.rps = static_cast<double>(r.requests) / window;
    r.error_rate = r.requests ? static_cast<double>(r.failed) / static_cast<double>(r.requests) : 0;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<ErrorPoint> RunReader::ErrorsPerSecond() const {
  std::map<std::pair<int64_t, std::string>, uint64_t> acc;
  Stmt st = impl_->Prepare(std::string("SELECT p.second, s.tags, p.passes ") + kPointsOf +
                           "WHERE m.name = 'http_req_failed' AND s.rollup = 'series' "
                           "AND p.passes > 0");
  while (st.Step() == SQLITE_ROW) {
    std::string type = "failed";
    auto tags = nlohmann::json::parse(st.Text(1), nullptr, false);
    if (tags.is_object()) {
      auto ec = tags.find("error_code");
      auto status = tags.find("status");
      if (ec != tags.end() && ec->is_string() && !ec->get<std::string>().empty()) {
        type = ec->get<std::string>();
      } else if (status != tags.end() && status->is_string()) {
        type = "http_" + status->get<std::string>();
      }
    }
    acc[{st.Int(0), type}] += static_cast<uint64_t>(st.Int(2));
  }
  std::vector<ErrorPoint> out;
  for (const auto& [k, n] : acc) out.push_back(ErrorPoint{k.first, k.second, n});
  return out;
}

std::vector<RequestRow> RunReader::Requests(const RequestQuery& q) const {
  Stmt st = impl_->Prepare(
      "SELECT c.trace_id, c.span_id, c.request_name, c.method, c.url, c.error_type, "
      "c.http_status, c.start_unix_ns, c.duration_ms, c.blocked_ms, c.dns_ms, c.connect_ms, "
      "c.tls_ms, c.sending_ms, c.waiting_ms, c.receiving_ms, sv.duration_ms, r.service_name "
      "FROM span c "
      "LEFT JOIN span sv ON sv.rowid = (SELECT x.rowid FROM span x WHERE x.parent_span_id = "
      "c.span_id AND x.trace_id = c.trace_id AND x.kind = 'server' "
      "ORDER BY x.duration_ms DESC LIMIT 1) "
      "LEFT JOIN resource r ON r.resource_id = sv.resource_id "
      "WHERE c.method IS NOT NULL AND c.source = 'client' AND c.duration_ms >= ?1 "
      "AND (?2 IS NULL OR c.start_unix_ns >= ?2) AND (?3 IS NULL OR c.start_unix_ns < ?3) "
      "AND (?4 IS NULL OR c.request_name = ?4) "
      "AND (?5 = 0 OR c.error_type IS NOT NULL OR c.http_status >= 400 OR c.status = 'error') "
      "ORDER BY c.duration_ms DESC, c.start_unix_ns LIMIT ?6");
  st.Bind(1, q.min_duration_ms).Bind(2, q.from_unix_ns).Bind(3, q.to_unix_ns);
  if (q.name) {
    st.Bind(4, *q.name);
  } else {
    st.BindNull(4);
  }
  st.Bind(5, q.failed_only ? 1 : 0).Bind(6, static_cast<int64_t>(q.limit));
  std::vector<RequestRow> out;
  while (st.Step() == SQLITE_ROW) {
    RequestRow r;
    r.trace_id = st.Text(0);
    r.span_id = st.Text(1);
    r.request_name = st.Text(2);
    r.method = st.Text(3);
    r.url = st.Text(4);
    r.error_type = st.Text(5);
    r.http_status = static_cast<int>(st.IsNull(6) ? 0 : st.Int(6));
    r.start_unix_ns = st.Int(7);
    r.duration_ms = st.Double(8);
    r.blocked_ms = st.OptDouble(9);
    r.dns_ms = st.OptDouble(10);
    r.connect_ms = st.OptDouble(11);
    r.tls_ms = st.OptDouble(12);
    r.sending_ms = st.OptDouble(13);
    r.waiting_ms = st.OptDouble(14);
    r.receiving_ms = st.OptDouble(15);
    r.server_ms = st.OptDouble(16);
    if (r.server_ms) r.outside_ms = r.duration_ms - *r.server_ms;
    r.server_service_name = st.Text(17);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<SpanRow> RunReader::Trace(std::string_view trace_id) const {
  Stmt st = impl_->Prepare(
      "SELECT s.trace_id, s.span_id, s.parent_span_id, s.source, r.service_name, s.scope, "
      "s.name, s.kind, s.status, s.status_message, s.start_unix_ns, s.end_unix_ns, "
      "s.duration_ms, s.attributes, s.events FROM span s "
      "LEFT JOIN resource r ON r.resource_id = s.resource_id "
      "WHERE s.trace_id = ? ORDER BY s.start_unix_ns, s.span_id");
  st.Bind(1, trace_id);
  std::vector<SpanRow> out;
  while (st.Step() == SQLITE_ROW) {
    SpanRow r;
    r.trace_id = st.Text(0);
    r.span_id = st.Text(1);
    r.parent_span_id = st.Text(2);
    r.source = st.Text(3);
    r.service_name = st.Text(4);
    r.scope = st.Text(5);
    r.name = st.Text(6);
    r.kind = st.Text(7);
    r.status = st.Text(8);
    r.status_message = st.Text(9);
    r.start_unix_ns = st.Int(10);
    r.end_unix_ns = st.Int(11);
    r.duration_ms = st.Double(12);
    r.attributes_json = st.Text(13);
    r.events_json = st.IsNull(14) ? "[]" : st.Text(14);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<RunReader::Exemplar> RunReader::Exemplars() const {
  Stmt st = impl_->Prepare(
      "SELECT second, name, trace_id, span_id, duration_ms FROM exemplar ORDER BY second, name");
  std::vector<Exemplar> out;
  while (st.Step() == SQLITE_ROW) {
    out.push_back(Exemplar{st.Int(0), st.Text(1), st.Text(2), st.Text(3), st.Double(4)});
  }
  return out;
}

std::vector<std::pair<std::string, int64_t>> RunReader::Stats() const {
  Stmt st = impl_->Prepare("SELECT key, value FROM store_stat ORDER BY key");
  std::vector<std::pair<std::string, int64_t>> out;
  while (st.Step() == SQLITE_ROW) out.emplace_back(st.Text(0), st.Int(1));
  return out;
}

}  // namespace stampede::store
