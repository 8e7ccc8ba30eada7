#include "store/run_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "core/thread_name.h"
#include "metrics/series_delta.h"
#include "store/hist_blob.h"
#include "store/schema.h"
#include "store/span_budget.h"
#include "store/span_decode.h"
#include "store/sqlite_util.h"

namespace stampede::store {
namespace {

using metrics::ExpHistogram;
using metrics::MetricType;
using metrics::SeriesValue;
using metrics::Snapshot;
using metrics::ValueType;

constexpr size_t kMaxQueuedSnapshots = 64;
constexpr int64_t kGraceSeconds = 15;
constexpr size_t kFlushSpans = 5000;  // write held spans between seconds beyond this

std::string_view ContainsName(ValueType v) {
  switch (v) {
    case ValueType::kTime:
      return "time";
    case ValueType::kData:
      return "data";
    default:
      return "default";
  }
}

// The change of one series (or a rollup of several) during one second.
using Delta = metrics::SeriesDelta;
using metrics::SeriesKey;

std::string TagsJson(std::span<const metrics::TagPair> tags) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& t : tags) j[t.key] = t.value;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct FinishData {
  std::shared_ptr<const Snapshot> snapshot;
  std::vector<metrics::MetricThresholdResults> thresholds;
  int64_t end_unix_ns = 0;
  int exit_code = 0;
  std::string outcome, summary_json;
};

struct Item {
  enum class Kind { kSnapshot, kClientSpans, kServiceSpans, kFinish, kStop } kind;
  std::shared_ptr<const Snapshot> snapshot{};
  int64_t data_unix_ns = 0;
  std::string bytes{};
  std::shared_ptr<FinishData> finish{};
};

}  // namespace

class RunStore::Impl {
 public:
  Impl(StoreOptions options, RunInfo info);
  ~Impl();

  void AddSnapshot(std::shared_ptr<const Snapshot> snapshot, int64_t data_unix_ns);
  void AddSpans(std::string_view request, bool service);
  void Finish(const RunEnd& end, int64_t drain_ns);
  StoreStats stats() const;
  RunStore::HighWater high_water() const;
  const std::string& path() const { return options_.path; }

 private:
  bool Push(Item item, size_t bytes, bool force);
  void Run();
  void Process(Item& item);

  // Store-thread helpers. Each returns false after counting a SQLite error.
  bool Exec(const char* sql);
  bool Check(int rc, const char* what);
  bool Begin() { return Exec("BEGIN IMMEDIATE"); }
  void Commit();
  void WriteSecond(const Snapshot& cur, int64_t data_unix_ns, bool final);
  void WriteDelta(const metrics::MetricDef& def, int64_t metric_id, std::string_view rollup,
                  const std::string& tags_json, std::optional<std::string_view> name,
                  const Delta& d, int64_t second);
  int64_t MetricId(const metrics::MetricDef& def);
  int64_t SeriesId(int64_t metric_id, std::string_view rollup, const std::string& tags_json,
                   std::optional<std::string_view> name);
  void DecodeSpans(const std::string& bytes, bool service);
  void WriteHeldSpans();
  void WriteSpan(const SpanRecord& s);
  int64_t ResourceId(const ResourceRow& r);
  // Writes store_stat; `seconds_in_this_transaction` are not counted yet.
  void WriteStats(uint64_t seconds_in_this_transaction = 0);
  void WriteFinish(const FinishData& f);
  void CloseDb();
  void PublishStats();

  StoreOptions options_;
  RunInfo info_;
  sqlite3* db_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // the store thread waits for input
  std::condition_variable done_cv_;  // Finish waits for the store thread
  std::deque<Item> queue_;
  size_t queued_bytes_ = 0;
  size_t queued_snapshots_ = 0;
  bool finish_queued_ = false;
  bool done_ = false;  // the store thread has closed the file
  std::atomic<bool> hurry_{false};

  // Counters readable from any thread.
  std::atomic<uint64_t> seconds_written_{0}, client_received_{0}, client_kept_{0},
      client_not_kept_{0}, service_received_{0}, service_kept_{0}, service_not_kept_{0},
      dropped_inputs_{0}, write_errors_{0};
  std::atomic<size_t> hw_queued_bytes_{0}, hw_queued_inputs_{0}, hw_held_spans_{0},
      hw_candidates_{0}, hw_open_windows_{0};

  // Store thread only.
  std::shared_ptr<const Snapshot> prev_;
  std::unordered_map<std::string, const SeriesValue*> prev_index_;
  int64_t last_second_ = -1;
  std::unordered_map<std::string, int64_t> metric_ids_;
  std::unordered_map<std::string, int64_t> series_ids_;
  std::unordered_map<std::string, int64_t> resource_ids_;
  SpanBudget budget_;
  std::vector<SpanRecord> held_;  // spans to write at the next commit
  std::vector<ExemplarRecord> exemplars_;
  std::map<int64_t, uint32_t> service_per_second_;
  bool logged_error_ = false;
  Stmt insert_point_, insert_span_;

  std::thread thread_;
};

RunStore::Impl::Impl(StoreOptions options, RunInfo info)
    : options_(std::move(options)),
      info_(std::move(info)),
      budget_(SpanBudget::Options{.run_start_unix_ns = info_.start_unix_ns,
                                  .max_per_second = options_.max_request_spans_per_second,
                                  .grace_seconds = kGraceSeconds}) {
  namespace fs = std::filesystem;
  const std::string& path = options_.path;
  if (path.empty()) {
    throw core::ConfigError("the run store needs a file path (--out sqlite=PATH)");
  }
  std::error_code ec;
  if (fs::exists(path, ec)) {
    throw core::ConfigError(
        path + ": already exists; choose another path (--out sqlite=PATH) or remove it");
  }
  const fs::path dir = fs::path(path).parent_path();
  if (!dir.empty() && !fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) {
      throw core::ConfigError(path + ": cannot create directory " + dir.string() + ": " +
                              ec.message());
    }
  }
  // O_EXCL: two runs pointed at the same path cannot both claim it.
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) {
      throw core::ConfigError(
          path + ": already exists; choose another path (--out sqlite=PATH) or remove it");
    }
    throw core::ConfigError(path + ": cannot create the run store: " + std::strerror(errno));
  }
  ::close(fd);
  auto fail = [&](const std::string& why) {
    sqlite3_close(db_);
    db_ = nullptr;
    fs::remove(path, ec);
    fs::remove(path + "-wal", ec);
    fs::remove(path + "-shm", ec);
    throw core::ConfigError(path + ": cannot write the run store: " + why);
  };
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    fail(db_ ? sqlite3_errmsg(db_) : "out of memory");
  }
  char* err = nullptr;
  auto exec = [&](const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string why = err ? err : "unknown error";
      sqlite3_free(err);
      fail(why);
    }
  };
  // WAL + synchronous=NORMAL: a committed transaction survives the process
  // being killed (the WAL is replayed on the next open).
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec("PRAGMA foreign_keys=OFF");
  exec("BEGIN");
  exec(std::string(kSchemaSql));
  exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
  {
    Stmt st(db_,
            "INSERT INTO run (run_id, stampede_version, host, command_line, script_path, "
            "script_sha256, script_source, target, options, thresholds, start_unix_ns, "
            "last_second) VALUES (?,?,?,?,?,?,?,?,?,?,?,-1)");
    if (!st.ok()) fail(sqlite3_errmsg(db_));
    st.Bind(1, info_.run_id)
        .Bind(2, info_.stampede_version)
        .Bind(3, info_.host)
        .Bind(4, info_.command_line)
        .BindTextOrNull(5, info_.script_path)
        .BindTextOrNull(6, info_.script_sha256)
        .BindTextOrNull(7, info_.script_source)
        .BindTextOrNull(8, info_.target)
        .Bind(9, info_.options_json.empty() ? std::string("{}") : info_.options_json)
        .Bind(10, info_.thresholds_json.empty() ? std::string("{}") : info_.thresholds_json)
        .Bind(11, info_.start_unix_ns);
    if (st.Step() != SQLITE_DONE) fail(sqlite3_errmsg(db_));
  }
  exec("COMMIT");
  insert_point_ = Stmt(db_,
                       "INSERT OR REPLACE INTO point (series_id, second, samples, value, passes, "
                       "p50, p90, p95, p99, max, hist) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
  insert_span_ = Stmt(
      db_,
      "INSERT OR IGNORE INTO span (trace_id, span_id, parent_span_id, source, resource_id, scope, "
      "name, kind, start_unix_ns, end_unix_ns, duration_ms, status, status_message, attributes, "
      "events, request_name, method, url, http_status, error_type, blocked_ms, dns_ms, "
      "connect_ms, tls_ms, sending_ms, waiting_ms, receiving_ms) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!insert_point_.ok() || !insert_span_.ok()) fail(sqlite3_errmsg(db_));
  thread_ = std::thread([this] { Run(); });
}

RunStore::Impl::~Impl() {
  {
    std::lock_guard lock(mu_);
    if (!done_) queue_.push_back(Item{.kind = Item::Kind::kStop});
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool RunStore::Impl::Push(Item item, size_t bytes, bool force) {
  {
    std::lock_guard lock(mu_);
    if (finish_queued_ || done_) {
      if (!force) ++dropped_inputs_;
      return false;
    }
    const bool is_snapshot = item.kind == Item::Kind::kSnapshot;
    if (!force && ((is_snapshot && queued_snapshots_ >= kMaxQueuedSnapshots) ||
                   (!is_snapshot && queued_bytes_ + bytes > options_.max_queued_bytes))) {
      ++dropped_inputs_;
      return false;
    }
    if (is_snapshot) ++queued_snapshots_;
    queued_bytes_ += bytes;
    if (item.kind == Item::Kind::kFinish) finish_queued_ = true;
    queue_.push_back(std::move(item));
    if (queued_bytes_ > hw_queued_bytes_) hw_queued_bytes_ = queued_bytes_;
    if (queue_.size() > hw_queued_inputs_) hw_queued_inputs_ = queue_.size();
  }
  cv_.notify_one();
  return true;
}

void RunStore::Impl::AddSnapshot(std::shared_ptr<const Snapshot> snapshot, int64_t data_unix_ns) {
  if (!snapshot) return;
  Push(Item{.kind = Item::Kind::kSnapshot,
            .snapshot = std::move(snapshot),
            .data_unix_ns = data_unix_ns},
       0, false);
}

void RunStore::Impl::AddSpans(std::string_view request, bool service) {
  if (request.empty()) return;
  // Size checked before copying: a full queue costs no allocation.
  {
    std::lock_guard lock(mu_);
    if (queued_bytes_ + request.size() > options_.max_queued_bytes) {
      ++dropped_inputs_;
      return;
    }
  }
  Push(Item{.kind = service ? Item::Kind::kServiceSpans : Item::Kind::kClientSpans,
            .bytes = std::string(request)},
       request.size(), false);
}

void RunStore::Impl::Finish(const RunEnd& end, int64_t drain_ns) {
  {
    std::lock_guard lock(mu_);
    if (finish_queued_ || done_) return;
  }
  auto f = std::make_shared<FinishData>();
  if (end.final_snapshot) f->snapshot = std::make_shared<Snapshot>(*end.final_snapshot);
  if (end.thresholds) f->thresholds = end.thresholds->Results();
  f->end_unix_ns = end.end_unix_ns;
  f->exit_code = end.exit_code;
  f->outcome = end.outcome;
  f->summary_json = end.summary_json;
  Push(Item{.kind = Item::Kind::kFinish, .finish = std::move(f)}, 0, true);
  std::unique_lock lock(mu_);
  if (!done_cv_.wait_for(lock, std::chrono::nanoseconds(std::max<int64_t>(drain_ns, 0)),
                         [&] { return done_; })) {
    // Out of time: skip the span batches still queued; the rest is bounded.
    hurry_ = true;
    done_cv_.wait(lock, [&] { return done_; });
  }
  lock.unlock();
  if (thread_.joinable()) thread_.join();
}

StoreStats RunStore::Impl::stats() const {
  StoreStats s;
  s.seconds_written = seconds_written_;
  s.client_spans_received = client_received_;
  s.client_spans_kept = client_kept_;
  s.client_spans_not_kept = client_not_kept_;
  s.service_spans_received = service_received_;
  s.service_spans_kept = service_kept_;
  s.service_spans_not_kept = service_not_kept_;
  s.dropped_inputs = dropped_inputs_;
  s.write_errors = write_errors_;
  return s;
}

RunStore::HighWater RunStore::Impl::high_water() const {
  RunStore::HighWater h;
  h.queued_bytes = hw_queued_bytes_;
  h.queued_inputs = hw_queued_inputs_;
  h.held_spans = hw_held_spans_;
  h.candidates = hw_candidates_;
  h.open_windows = hw_open_windows_;
  return h;
}

void RunStore::Impl::Run() {
  core::NameThisThread("stampede-store");
  for (;;) {
    Item item;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty(); });
      item = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= item.bytes.size();
      if (item.kind == Item::Kind::kSnapshot) --queued_snapshots_;
    }
    const bool last = item.kind == Item::Kind::kFinish || item.kind == Item::Kind::kStop;
    Process(item);
    if (last) break;
  }
  {
    std::lock_guard lock(mu_);
    done_ = true;
    // Inputs that raced with the end.
    dropped_inputs_ += queue_.size();
    queue_.clear();
  }
  done_cv_.notify_all();
}

void RunStore::Impl::Process(Item& item) {
  switch (item.kind) {
    case Item::Kind::kSnapshot:
      WriteSecond(*item.snapshot, item.data_unix_ns, false);
      prev_ = std::move(item.snapshot);
      break;
    case Item::Kind::kClientSpans:
    case Item::Kind::kServiceSpans:
      if (hurry_) {
        ++dropped_inputs_;
        break;
      }
      DecodeSpans(item.bytes, item.kind == Item::Kind::kServiceSpans);
      if (held_.size() >= kFlushSpans) {
        if (Begin()) {
          WriteHeldSpans();
          WriteStats();
          Commit();
        }
      }
      break;
    case Item::Kind::kFinish:
      WriteFinish(*item.finish);
      CloseDb();
      break;
    case Item::Kind::kStop:
      // No Finish: commit what is held; the run row keeps exit_code NULL.
      budget_.CloseAll(held_, exemplars_);
      if (Begin()) {
        WriteHeldSpans();
        WriteStats();
        Commit();
      }
      CloseDb();
      break;
  }
}

bool RunStore::Impl::Check(int rc, const char* what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return true;
  ++write_errors_;
  if (!logged_error_) {
    logged_error_ = true;
    core::Warn("run store {}: {} failed: {} (further errors are counted, not logged)",
               options_.path, what, db_ ? sqlite3_errmsg(db_) : "closed");
  }
  return false;
}

bool RunStore::Impl::Exec(const char* sql) {
  if (db_ == nullptr) return false;
  return Check(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr), sql);
}

void RunStore::Impl::Commit() {
  if (!Exec("COMMIT")) Exec("ROLLBACK");
}

int64_t RunStore::Impl::MetricId(const metrics::MetricDef& def) {
  if (auto it = metric_ids_.find(def.name); it != metric_ids_.end()) return it->second;
  Stmt st(db_, "INSERT INTO metric (name, type, contains, custom) VALUES (?,?,?,?)");
  st.Bind(1, def.name)
      .Bind(2, metrics::MetricTypeName(def.type))
      .Bind(3, ContainsName(def.value_type))
      .Bind(4, def.custom ? 1 : 0);
  if (!Check(st.Step(), "insert metric")) return -1;
  const int64_t id = sqlite3_last_insert_rowid(db_);
  metric_ids_[def.name] = id;
  return id;
}

int64_t RunStore::Impl::SeriesId(int64_t metric_id, std::string_view rollup,
                                 const std::string& tags_json,
                                 std::optional<std::string_view> name) {
  std::string key = std::to_string(metric_id);
  key += '|';
  key += rollup;
  key += '|';
  key += tags_json;
  if (auto it = series_ids_.find(key); it != series_ids_.end()) return it->second;
  Stmt st(db_, "INSERT INTO series (metric_id, rollup, tags, name) VALUES (?,?,?,?)");
  st.Bind(1, metric_id).Bind(2, rollup).Bind(3, tags_json);
  if (name) {
    st.Bind(4, *name);
  } else {
    st.BindNull(4);
  }
  if (!Check(st.Step(), "insert series")) return -1;
  const int64_t id = sqlite3_last_insert_rowid(db_);
  series_ids_.emplace(std::move(key), id);
  return id;
}

void RunStore::Impl::WriteDelta(const metrics::MetricDef& def, int64_t metric_id,
                                std::string_view rollup, const std::string& tags_json,
                                std::optional<std::string_view> name, const Delta& d,
                                int64_t second) {
  if (d.samples == 0 && !(def.type == MetricType::kGauge && d.has_value)) return;
  const int64_t series_id = SeriesId(metric_id, rollup, tags_json, name);
  if (series_id < 0) return;
  Stmt& st = insert_point_;
  st.Reset();
  st.Bind(1, series_id).Bind(2, second);
  const double unit = def.value_type == ValueType::kTime ? 1e-6 : 1.0;  // ns → ms
  switch (def.type) {
    case MetricType::kCounter:
      st.Bind(3, d.samples).Bind(4, d.count);
      break;
    case MetricType::kGauge:
      st.Bind(3, d.samples).Bind(4, d.value);
      break;
    case MetricType::kRate: {
      const uint64_t n = d.passes + d.fails;
      st.Bind(3, n).Bind(4, n ? static_cast<double>(d.passes) / static_cast<double>(n) : 0.0);
      st.Bind(5, d.passes);
      break;
    }
    case MetricType::kTrend: {
      if (!d.hist || d.hist->count() == 0) return;
      const ExpHistogram& h = *d.hist;
      st.Bind(3, h.count()).Bind(4, h.Mean() * unit);
      st.Bind(6, h.Quantile(0.50) * unit)
          .Bind(7, h.Quantile(0.90) * unit)
          .Bind(8, h.Quantile(0.95) * unit)
          .Bind(9, h.Quantile(0.99) * unit)
          .Bind(10, h.max() * unit);
      st.BindBlob(11, EncodeHistBlob(h));
      break;
    }
  }
  Check(st.Step(), "insert point");
}

void RunStore::Impl::WriteSecond(const Snapshot& cur, int64_t data_unix_ns, bool final) {
  if (db_ == nullptr) {
    prev_index_.clear();  // it points into the snapshot about to be replaced
    return;
  }
  const double since = static_cast<double>(data_unix_ns - info_.start_unix_ns) / 1e9;
  int64_t second = static_cast<int64_t>(std::llround(since)) - 1;

  // Deltas per series, and the rollups per (metric, name) and per metric.
  struct MetricAcc {
    Delta all;
    std::map<std::string, Delta> by_name;
    bool any = false;
  };
  std::map<metrics::MetricId, MetricAcc> acc;
  std::vector<std::tuple<metrics::MetricId, metrics::TagSetId, Delta>> series;
  std::unordered_map<std::string, const SeriesValue*> index;
  bool any_samples = false;
  for (const Snapshot::Series& s : cur.series()) {
    const metrics::MetricDef& def = cur.metrics()[s.metric];
    const auto tags = cur.tags(s.tag_set);
    std::string key = SeriesKey(def.name, tags);
    const SeriesValue* p = nullptr;
    if (auto it = prev_index_.find(key); it != prev_index_.end()) p = it->second;
    index.emplace(std::move(key), &s.value);
    bool not_cumulative = false;
    Delta d = metrics::DeltaOf(def.type, s.value, p, &not_cumulative);
    if (not_cumulative) Check(SQLITE_MISUSE, "histogram difference (not cumulative)");
    if (d.samples > 0 && def.type != MetricType::kGauge) any_samples = true;
    MetricAcc& a = acc[s.metric];
    a.any = true;
    a.all.type = def.type;
    a.all.Merge(d);
    for (const auto& t : tags) {
      if (t.key == "name") {
        Delta& n = a.by_name[t.value];
        n.type = def.type;
        n.Merge(d);
        break;
      }
    }
    series.emplace_back(s.metric, s.tag_set, std::move(d));
  }
  if (final && !any_samples && second <= last_second_) {
    // Nothing new since the last second: no extra (partial) second.
    second = last_second_;
  } else {
    second = std::max(second, last_second_ + 1);
  }
  const bool write_points = second > last_second_;

  if (!Begin()) {
    prev_index_ = std::move(index);
    return;
  }
  if (write_points) {
    for (auto& [metric, tag_set, d] : series) {
      const metrics::MetricDef& def = cur.metrics()[metric];
      const int64_t metric_id = MetricId(def);
      if (metric_id < 0) continue;
      std::optional<std::string_view> name;
      const auto tags = cur.tags(tag_set);
      for (const auto& t : tags) {
        if (t.key == "name") name = t.value;
      }
      WriteDelta(def, metric_id, "series", TagsJson(tags), name, d, second);
    }
    for (auto& [metric, a] : acc) {
      const metrics::MetricDef& def = cur.metrics()[metric];
      const int64_t metric_id = MetricId(def);
      if (metric_id < 0) continue;
      WriteDelta(def, metric_id, "metric", "{}", std::nullopt, a.all, second);
      for (auto& [name, d] : a.by_name) {
        nlohmann::json tags = {{"name", name}};
        WriteDelta(def, metric_id, "name",
                   tags.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), name, d,
                   second);
      }
    }
    Stmt up(db_, "UPDATE run SET last_second = ?");
    up.Bind(1, second);
    Check(up.Step(), "update run");
  }
  // Client span windows the data has moved past are decided now.
  budget_.Advance(second + 1, held_, exemplars_);
  WriteHeldSpans();
  WriteStats(write_points ? 1 : 0);
  Commit();
  // Counted once committed: a reader of stats() (the kill -9 test) may rely
  // on every counted second being in the file.
  if (write_points) ++seconds_written_;
  if (write_points) last_second_ = second;
  prev_index_ = std::move(index);
  for (auto it = service_per_second_.begin();
       it != service_per_second_.end() && it->first < second - 120;) {
    it = service_per_second_.erase(it);
  }
}

void RunStore::Impl::DecodeSpans(const std::string& bytes, bool service) {
  std::vector<SpanRecord> spans;
  const bool ok = DecodeTraceRequest(bytes, spans);
  if (!ok) Check(SQLITE_FORMAT, service ? "decode service spans" : "decode client spans");
  if (service) {
    service_received_ += spans.size();
    for (SpanRecord& s : spans) {
      s.from_service = true;
      uint32_t& n = service_per_second_[budget_.SecondOf(s.start_unix_ns)];
      if (n >= options_.max_service_spans_per_second) {
        ++service_not_kept_;
        continue;
      }
      ++n;
      ++service_kept_;
      held_.push_back(std::move(s));
    }
    return;
  }
  client_received_ += spans.size();
  budget_.Add(std::move(spans), held_, exemplars_);
  PublishStats();
}

void RunStore::Impl::PublishStats() {
  client_kept_ = budget_.kept();
  client_not_kept_ = budget_.not_kept();
  const auto& hw = budget_.high_water();
  hw_held_spans_ = hw.held_spans;
  hw_candidates_ = hw.candidates;
  hw_open_windows_ = hw.open_windows;
}

int64_t RunStore::Impl::ResourceId(const ResourceRow& r) {
  if (auto it = resource_ids_.find(r.attributes_json); it != resource_ids_.end()) {
    return it->second;
  }
  Stmt ins(db_, "INSERT OR IGNORE INTO resource (service_name, attributes) VALUES (?,?)");
  ins.BindTextOrNull(1, r.service_name).Bind(2, r.attributes_json);
  if (!Check(ins.Step(), "insert resource")) return -1;
  Stmt sel(db_, "SELECT resource_id FROM resource WHERE attributes = ?");
  sel.Bind(1, r.attributes_json);
  if (sel.Step() != SQLITE_ROW) return -1;
  const int64_t id = sel.Int(0);
  resource_ids_.emplace(r.attributes_json, id);
  return id;
}

void RunStore::Impl::WriteSpan(const SpanRecord& s) {
  Stmt& st = insert_span_;
  st.Reset();
  st.Bind(1, s.trace_id).Bind(2, s.span_id).BindTextOrNull(3, s.parent_span_id);
  st.Bind(4, s.from_service ? "service" : "client");
  if (s.resource) {
    const int64_t rid = ResourceId(*s.resource);
    if (rid >= 0) st.Bind(5, rid);
  }
  st.BindTextOrNull(6, s.scope).Bind(7, s.name).Bind(8, s.kind);
  st.Bind(9, s.start_unix_ns).Bind(10, s.end_unix_ns).Bind(11, s.duration_ms);
  st.Bind(12, s.status).BindTextOrNull(13, s.status_message);
  st.Bind(14, s.attributes_json).Bind(15, s.events_json);
  if (s.is_request) {
    st.Bind(16, s.request_name).Bind(17, s.method).Bind(18, s.url);
    st.Bind(19, s.http_status).BindTextOrNull(20, s.error_type);
    st.Bind(21, s.blocked_ms).Bind(22, s.dns_ms).Bind(23, s.connect_ms).Bind(24, s.tls_ms);
    st.Bind(25, s.sending_ms).Bind(26, s.waiting_ms).Bind(27, s.receiving_ms);
  }
  Check(st.Step(), "insert span");
}

void RunStore::Impl::WriteHeldSpans() {
  for (const SpanRecord& s : held_) WriteSpan(s);
  held_.clear();
  held_.shrink_to_fit();
  if (!exemplars_.empty()) {
    Stmt st(db_,
            "INSERT OR REPLACE INTO exemplar (second, name, trace_id, span_id, duration_ms) "
            "VALUES (?,?,?,?,?)");
    for (const ExemplarRecord& e : exemplars_) {
      st.Reset();
      st.Bind(1, e.second).Bind(2, e.name).Bind(3, e.trace_id).Bind(4, e.span_id);
      st.Bind(5, e.duration_ms);
      Check(st.Step(), "insert exemplar");
    }
    exemplars_.clear();
  }
  PublishStats();
}

void RunStore::Impl::WriteStats(uint64_t seconds_in_this_transaction) {
  PublishStats();
  const StoreStats s = stats();
  const std::pair<const char*, uint64_t> rows[] = {
      {"seconds_written", s.seconds_written + seconds_in_this_transaction},
      {"client_spans_received", s.client_spans_received},
      {"client_spans_kept", s.client_spans_kept},
      {"client_spans_not_kept", s.client_spans_not_kept},
      {"service_spans_received", s.service_spans_received},
      {"service_spans_kept", s.service_spans_kept},
      {"service_spans_not_kept", s.service_spans_not_kept},
      {"dropped_inputs", s.dropped_inputs},
      {"write_errors", s.write_errors},
  };
  Stmt st(db_, "INSERT OR REPLACE INTO store_stat (key, value) VALUES (?,?)");
  for (const auto& [key, value] : rows) {
    st.Reset();
    st.Bind(1, key).Bind(2, value);
    Check(st.Step(), "insert store_stat");
  }
}

void RunStore::Impl::WriteFinish(const FinishData& f) {
  if (db_ == nullptr) return;
  if (f.snapshot) {
    WriteSecond(*f.snapshot, f.end_unix_ns, true);
    prev_ = f.snapshot;
  }
  budget_.CloseAll(held_, exemplars_);
  if (!Begin()) return;
  WriteHeldSpans();
  {
    Stmt st(db_,
            "INSERT INTO threshold (metric, expression, abort_on_fail, passed, observed, "
            "first_failed_second) VALUES (?,?,?,?,?,NULL)");
    for (const auto& m : f.thresholds) {
      for (const auto& t : m.thresholds) {
        st.Reset();
        st.Bind(1, m.metric).Bind(2, t.source).Bind(3, t.abort_on_fail ? 1 : 0);
        if (t.evaluated) {
          st.Bind(4, t.passed ? 1 : 0);
        } else {
          st.BindNull(4);
        }
        st.Bind(5, t.observed);
        Check(st.Step(), "insert threshold");
      }
    }
  }
  if (f.snapshot) {
    std::map<std::pair<std::string, std::string>, std::pair<uint64_t, uint64_t>> checks;
    if (auto id = f.snapshot->FindMetric("checks")) {
      for (const Snapshot::Series& s : f.snapshot->series()) {
        if (s.metric != *id) continue;
        std::string check, group;
        for (const auto& t : f.snapshot->tags(s.tag_set)) {
          if (t.key == "check") check = t.value;
          if (t.key == "group") group = t.value;
        }
        auto& c = checks[{check, group}];
        c.first += s.value.passes;
        c.second += s.value.fails;
      }
    }
    Stmt st(db_, "INSERT INTO check_total (check_name, grp, passes, fails) VALUES (?,?,?,?)");
    for (const auto& [k, v] : checks) {
      st.Reset();
      st.Bind(1, k.first).Bind(2, k.second).Bind(3, v.first).Bind(4, v.second);
      Check(st.Step(), "insert check_total");
    }
  }
  {
    Stmt st(db_, "UPDATE run SET end_unix_ns = ?, exit_code = ?, outcome = ?, summary = ?");
    st.Bind(1, f.end_unix_ns).Bind(2, f.exit_code).Bind(3, f.outcome);
    st.BindTextOrNull(4, f.summary_json);
    Check(st.Step(), "update run");
  }
  WriteStats();
  Commit();
}

void RunStore::Impl::CloseDb() {
  if (db_ == nullptr) return;
  sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  insert_point_ = Stmt();
  insert_span_ = Stmt();
  // The last connection to close removes the -wal and -shm files.
  if (sqlite3_close(db_) != SQLITE_OK) Check(SQLITE_BUSY, "close");
  db_ = nullptr;
}

RunStore::RunStore(StoreOptions options, RunInfo info)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(info))) {}
RunStore::~RunStore() = default;
const std::string& RunStore::path() const { return impl_->path(); }
void RunStore::AddSnapshot(std::shared_ptr<const metrics::Snapshot> snapshot,
                           int64_t data_unix_ns) {
  impl_->AddSnapshot(std::move(snapshot), data_unix_ns);
}
void RunStore::AddClientSpans(std::string_view request) { impl_->AddSpans(request, false); }
void RunStore::AddServiceSpans(std::string_view request) { impl_->AddSpans(request, true); }
void RunStore::Finish(const RunEnd& end, int64_t drain_ns) { impl_->Finish(end, drain_ns); }
StoreStats RunStore::stats() const { return impl_->stats(); }
RunStore::HighWater RunStore::high_water() const { return impl_->high_water(); }

}  // namespace stampede::store
