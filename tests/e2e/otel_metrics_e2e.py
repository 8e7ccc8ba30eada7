#!/usr/bin/env python3
"""End-to-end tests of stampede's OTLP metrics export (python3 stdlib + node).

    python3 tests/e2e/otel_metrics_e2e.py --stampede build/src/cli/stampede [--only NAME] [-k SUBSTR]

`stampede run --otel` exports spans AND metrics to tests/support/otlp_sink.js,
an independent OTLP receiver (protobufjs as shipped by the OpenTelemetry JS
packages) that writes every data point it receives as a JSON line
(--metrics-out) and every span as another (--out). The cases compare what the
collector got with stampede's own end-of-test summary (--summary-export):
names, units, types and temporalities of the k6 and semconv families, final
cumulative values and summed delta values against the summary's counts, the
p95 recomputed from the exponential buckets, exemplars that point at spans the
collector really received, the cardinality limit's overflow point, Ctrl-C's
final export, and a collector that fails or is not there at all (the load is
unaffected, the loss is counted). k6's own command line (`--out
experimental-opentelemetry` with K6_OTEL_* variables) reaches the gRPC sink.

Reuses the harness of run_cli_tests.py and the sink launcher of otel_e2e.py;
prints one line per case and exactly `N passed, M failed`.
"""

import argparse
import bisect
import http.client
import json
import math
import os
import re
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import run_cli_tests as h  # noqa: E402
import otel_e2e as o  # noqa: E402  (registers its cases into h.CASES: cleared below)

h.CASES.clear()  # this file's cases only
case, check, check_eq = h.case, h.check, h.check_eq

INTERVAL_ENV = {"OTEL_METRIC_EXPORT_INTERVAL": "1000", "OTEL_BSP_SCHEDULE_DELAY": "200"}
K6_PHASES = ("blocked", "connecting", "tls_handshaking", "sending", "waiting", "receiving")
# The HTTP semantic conventions' advisory boundaries of http.client.*.duration (s).
SEMCONV_S_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
CUMULATIVE, DELTA = 2, 1


# --------------------------------------------------------------------------
# The sink and what it received.

class Sink(o.Sink):
    """otlp_sink.js with --metrics-out; `args` are fault options."""

    def __init__(self, t, *args):
        metrics_out = t.path("points-%d.jsonl" % len(t.cleanups))
        super().__init__(t, "--metrics-out", metrics_out, *args)
        self.metrics_out = metrics_out

    def points(self):
        if not os.path.exists(self.metrics_out):
            return []
        with open(self.metrics_out) as f:
            return [json.loads(line) for line in f if line.strip()]

    def stats(self):
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
        try:
            c.request("GET", "/__stats")
            return json.loads(c.getresponse().read())
        finally:
            c.close()


def metrics_env(sink, protocol="http/protobuf", **extra):
    env = dict(o.otel_env(sink, protocol), **INTERVAL_ENV)
    env.update(extra)
    return env


def by_metric(points):
    out = {}
    for p in points:
        out.setdefault(p["metric"], []).append(p)
    return out


def series_key(p):
    return (p["metric"], json.dumps(p["attributes"], sort_keys=True))


def final_points(points):
    """The last point (largest time) of every series: a cumulative metric's end value."""
    last = {}
    for p in points:
        k = series_key(p)
        if k not in last or int(p["time_ns"]) >= int(last[k]["time_ns"]):
            last[k] = p
    return list(last.values())


def final_total(points, metric, field="value"):
    return sum(p[field] for p in final_points(points) if p["metric"] == metric)


def delta_total(points, metric, field="value"):
    return sum(p[field] for p in points if p["metric"] == metric)


def only(points, metric):
    ps = [p for p in points if p["metric"] == metric]
    check(ps, "the collector got no %r points (got: %s)"
          % (metric, ", ".join(sorted({p["metric"] for p in points}))))
    return ps


def check_shape(points, metric, type_, unit, monotonic=None, temporality=None):
    for p in only(points, metric):
        check_eq(p["type"], type_, "%s type" % metric)
        check_eq(p["unit"], unit, "%s unit" % metric)
        if monotonic is not None:
            check_eq(p["monotonic"], monotonic, "%s is_monotonic" % metric)
        if temporality is not None:
            check_eq(p["temporality"], temporality, "%s aggregationTemporality" % metric)


def check_no_url_attribute(points):
    for p in points:
        for k in ("url", "url.full"):
            check(k not in p["attributes"], "%s has a %r attribute: %r" % (p["metric"], k, p["attributes"]))


def summary_count(r, name):
    return r.metric(name)["count"]


def otel_metrics_json(r):
    m = r.json.get("otel_metrics")
    check(isinstance(m, dict), "summary export has no \"otel_metrics\" object: keys %s" % sorted(r.json))
    for k in ("points_exported", "points_failed", "points_dropped", "exports"):
        check(k in m, "otel_metrics has no %r: %r" % (k, m))
    return m


def metrics_warnings(stderr):
    return [ln for ln in stderr.splitlines() if "OTLP metrics" in ln]


# --------------------------------------------------------------------------
# Exponential histograms (OTel data model): at scale s, base = 2^(2^-s) and
# positive bucket i holds (base^i, base^(i+1)].

def exp_merge(points):
    """One histogram from several exponential points (downscaled to the smallest scale)."""
    check(points, "no exponential histogram points to merge")
    scale = min(p["scale"] for p in points)
    buckets = {}
    for p in points:
        shift = p["scale"] - scale
        off = p["positive"]["offset"]
        for i, c in enumerate(p["positive"]["bucket_counts"]):
            if c:
                idx = (off + i) >> shift  # floor, also for negative indices
                buckets[idx] = buckets.get(idx, 0) + c
    counted = [p for p in points if p["count"]]
    return {"scale": scale, "buckets": buckets, "zero_count": sum(p["zero_count"] for p in points),
            "count": sum(p["count"] for p in points),
            "min": min(p["min"] for p in counted) if counted else 0,
            "max": max(p["max"] for p in counted) if counted else 0}


def exp_base(scale):
    return 2.0 ** (2.0 ** -scale)


def exp_quantile(hist, q):
    """Like the summary: linear interpolation between the closest ranks; a
    bucket's value is its point of least relative error, 2*lo*hi/(lo+hi)."""
    n = hist["count"]
    base = exp_base(hist["scale"])
    order = sorted(hist["buckets"].items())

    def at_rank(r):
        if r < hist["zero_count"]:
            return 0.0
        r -= hist["zero_count"]
        for idx, c in order:
            if r < c:
                lo, hi = base ** idx, base ** (idx + 1)
                return 2 * lo * hi / (lo + hi)
            r -= c
        raise AssertionError("rank beyond the bucket counts (count %d)" % n)

    pos = q * (n - 1)
    rank = int(pos)
    v = at_rank(rank)
    if pos > rank and rank + 1 < n:
        v += (pos - rank) * (at_rank(rank + 1) - v)
    return min(max(v, hist["min"]), hist["max"])


def check_exp_point(p):
    check_eq(p["type"], "exponential_histogram", "%s type" % p["metric"])
    check(-10 <= p["scale"] <= 20, "%s scale %r outside [-10, 20]" % (p["metric"], p["scale"]))
    check(len(p["positive"]["bucket_counts"]) <= 160,
          "%s has %d buckets (> 160)" % (p["metric"], len(p["positive"]["bucket_counts"])))
    check_eq(sum(p["positive"]["bucket_counts"]) + p["zero_count"], p["count"],
             "%s bucket counts + zero_count vs count" % p["metric"])


def write_script(t, name, text):
    path = t.path(name)
    with open(path, "w") as f:
        f.write(text)
    return path


# --------------------------------------------------------------------------
# Cases.

@case
def a_protobuf_cumulative_exponential(t):
    sink = Sink(t)
    ngx = t.nginx()
    r = t.run("--url", ngx.url, "--vus", "2", "--duration", "3s", "--otel",
              env=metrics_env(sink))
    h.check_success(r, summary_count(r, "http_reqs"))
    reqs = summary_count(r, "http_reqs")
    check(reqs > 50, "the load ran (%d requests)" % reqs)
    pts = sink.points()
    check(pts, "the collector got no data points\n" + r.stderr[-2000:])
    check(all(p["transport"] == "http/protobuf" for p in pts), "points by another transport")
    m = otel_metrics_json(r)
    check_eq(m["points_failed"] + m["points_dropped"], 0, "points failed + dropped (%r)" % m)
    check_eq(m["points_exported"], len(pts), "points_exported vs points the collector got")
    check(m["exports"] >= 2, "at least two exports in 3 s at a 1 s interval: %r" % m)
    check("   metrics: %d points exported" % len(pts) in r.stdout,
          "the summary's metrics line counts the points:\n" + r.stdout[-1500:])

    # k6 family: names, types, units.
    check_shape(pts, "stampede_http_reqs", "sum", "{request}", True, CUMULATIVE)
    check_shape(pts, "stampede_iterations", "sum", "{iteration}", True, CUMULATIVE)
    check_shape(pts, "stampede_http_req_failed", "sum", only(pts, "stampede_http_req_failed")[0]["unit"],
                True, CUMULATIVE)
    for name in ["http_req_duration", "iteration_duration", "http_req_looking_up"] + \
            ["http_req_" + ph for ph in K6_PHASES]:
        check_shape(pts, "stampede_" + name, "exponential_histogram", "s", None, CUMULATIVE)
    for name in ("stampede_data_sent", "stampede_data_received"):
        check_shape(pts, name, "sum", "By", True, CUMULATIVE)
    for name in ("stampede_vus", "stampede_vus_max"):
        check_shape(pts, name, "gauge", "{vu}")
    check_shape(pts, "stampede_spans_exported", "sum", only(pts, "stampede_spans_exported")[0]["unit"],
                True)
    spans_exported = final_total(pts, "stampede_spans_exported")
    check(0 < spans_exported <= r.json["spans"]["exported"],
          "final stampede_spans_exported %r vs the summary's %r" % (spans_exported, r.json["spans"]))
    # Semconv family.
    check_shape(pts, "http.client.request.duration", "exponential_histogram", "s", None, CUMULATIVE)
    check_shape(pts, "http.client.open_connections", "sum", "{connection}", False, CUMULATIVE)
    check_shape(pts, "http.client.connection.duration", "exponential_histogram", "s", None, CUMULATIVE)
    for p in only(pts, "http.client.open_connections"):
        check(p["attributes"].get("http.connection.state") in ("active", "idle"),
              "http.connection.state: %r" % p["attributes"])

    # Values against the summary.
    check_eq(final_total(pts, "stampede_http_reqs"), reqs, "final cumulative stampede_http_reqs")
    check_eq(final_total(pts, "stampede_iterations"), summary_count(r, "iterations"),
             "final cumulative stampede_iterations")
    check_eq(final_total(pts, "stampede_data_received"), summary_count(r, "data_received"),
             "final cumulative stampede_data_received")
    check_eq(final_total(pts, "stampede_data_sent"), summary_count(r, "data_sent"),
             "final cumulative stampede_data_sent")
    failed = final_points(only(pts, "stampede_http_req_failed"))
    check(all(p["attributes"].get("condition") in ("zero", "nonzero") for p in failed),
          "stampede_http_req_failed condition attribute: %r" % [p["attributes"] for p in failed])
    check_eq(sum(p["value"] for p in failed if p["attributes"]["condition"] == "zero"), reqs,
             "stampede_http_req_failed{condition=zero} (all requests succeeded)")
    check_eq(sum(p["value"] for p in failed if p["attributes"]["condition"] == "nonzero"), 0,
             "stampede_http_req_failed{condition=nonzero}")
    dur_final = final_points(only(pts, "stampede_http_req_duration"))
    for p in only(pts, "stampede_http_req_duration") + only(pts, "http.client.request.duration"):
        check_exp_point(p)
    check_eq(sum(p["count"] for p in dur_final), reqs, "final stampede_http_req_duration count")
    summary = r.metric("http_req_duration")
    avg = sum(p["sum"] for p in dur_final) / sum(p["count"] for p in dur_final) * 1000
    check(math.isclose(avg, summary["avg"], rel_tol=1e-6),
          "avg: OTLP sum/count %r ms vs summary %r ms" % (avg, summary["avg"]))
    check_eq(sum(p["count"] for p in final_points(only(pts, "http.client.request.duration"))), reqs,
             "final http.client.request.duration count")

    # p95, min and max from the buckets vs the summary (ms).
    hist = exp_merge(dur_final)
    base = exp_base(hist["scale"])
    # The histogram's bound, plus the summary's own (<= 0.55 %) and one raw
    # bucket's width at the ns -> s re-bucketing (<= 1.1 %).
    bound = (base - 1) / (base + 1) + 0.02
    p95 = exp_quantile(hist, 0.95) * 1000
    check(abs(p95 - summary["p(95)"]) <= bound * summary["p(95)"],
          "p95 from the OTLP buckets %.6f ms vs the summary's %.6f ms: off by %.2f %% > %.2f %% "
          "(scale %d)" % (p95, summary["p(95)"], 100 * abs(p95 / summary["p(95)"] - 1), 100 * bound,
                          hist["scale"]))
    for k in ("min", "max"):
        check(math.isclose(hist[k] * 1000, summary[k], rel_tol=1e-6, abs_tol=1e-6),
              "%s: OTLP %r s vs summary %r ms" % (k, hist[k], summary[k]))

    # Exemplars: sampled CLIENT spans the collector received; values in s.
    spans = o.ours(sink.spans())
    client = {s["span_id"]: s for s in spans if s["kind"] == 3}
    trace_ids = {s["trace_id"] for s in spans}
    n_exemplars = 0
    for p in only(pts, "stampede_http_req_duration") + only(pts, "http.client.request.duration"):
        for e in p["exemplars"]:
            n_exemplars += 1
            check(e["trace_id"] in trace_ids, "exemplar trace id %s: no such span received" % e["trace_id"])
            s = client.get(e["span_id"])
            check(s is not None, "exemplar span id %s is no CLIENT span received" % e["span_id"])
            check_eq(s["trace_id"], e["trace_id"], "exemplar trace id vs its span's")
            check_eq(s["flags"] & 1, 1, "an exemplar's span is sampled")
            span_s = (int(s["end_ns"]) - int(s["start_ns"])) / 1e9
            check(0 < e["value"] < 60, "exemplar value in seconds: %r" % e["value"])
            if p["metric"] == "http.client.request.duration":
                check(math.isclose(e["value"], span_s, rel_tol=0.01, abs_tol=2e-6),
                      "semconv exemplar value %r s vs its span's duration %r s" % (e["value"], span_s))
            else:
                check(e["value"] <= span_s + 2e-6,
                      "http_req_duration exemplar %r s longer than its span %r s" % (e["value"], span_s))
    check(n_exemplars > 0, "no exemplars on the duration histograms")

    # Resource, start times, attributes.
    for p in pts:
        res = p["resource"]
        check(res.get("stampede.run.id"), "resource has no stampede.run.id: %r" % res)
        check_eq(res.get("service.name"), "stampede", "resource service.name")
    starts = {p["start_ns"] for p in pts if p["temporality"] == CUMULATIVE}
    check_eq(len(starts), 1, "cumulative points share one start time (the run's start)")
    first_span = min(int(s["start_ns"]) for s in spans)
    check(int(starts.pop()) <= first_span, "cumulative start time after the first span")
    check_no_url_attribute(pts)
    k6_names = {p["attributes"].get("name") for p in only(pts, "stampede_http_reqs")}
    for p in only(pts, "http.client.request.duration"):
        a = p["attributes"]
        check(isinstance(a.get("server.port"), int) and not isinstance(a.get("server.port"), bool),
              "server.port is an int: %r" % a)
        check_eq(a.get("server.port"), ngx.port, "server.port")
        check_eq(a.get("server.address"), "127.0.0.1", "server.address")
        check_eq(a.get("http.request.method"), "GET", "http.request.method")
        check_eq(a.get("http.response.status_code"), 200, "http.response.status_code (int)")
        check(a.get("url.template") in k6_names, "url.template %r is not the request name %r"
              % (a.get("url.template"), k6_names))
        check("error.type" not in a, "error.type on a 200: %r" % a)
    for p in only(pts, "stampede_http_reqs"):
        a = p["attributes"]
        for k in ("name", "method", "status", "expected_response"):
            check(k in a, "stampede_http_reqs has no %r attribute: %r" % (k, a))
        check("scenario" not in a, "the scenario tag becomes stampede.scenario: %r" % a)


@case
def b_delta_temporality(t):
    sink = Sink(t)
    ngx = t.nginx()
    r = t.run("--url", ngx.url, "--vus", "2", "--duration", "3s", "--otel",
              env=metrics_env(sink, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE="delta"))
    r.expect_rc(0)
    reqs = summary_count(r, "http_reqs")
    pts = sink.points()
    for name in ("stampede_http_reqs", "stampede_data_received", "stampede_iterations"):
        check_shape(pts, name, "sum", only(pts, name)[0]["unit"], True, DELTA)
    for name in ("stampede_http_req_duration", "http.client.request.duration"):
        check_shape(pts, name, "exponential_histogram", "s", None, DELTA)
    check_shape(pts, "http.client.open_connections", "sum",
                only(pts, "http.client.open_connections")[0]["unit"], False, CUMULATIVE)
    check_eq(delta_total(pts, "stampede_http_reqs"), reqs, "sum of the delta stampede_http_reqs points")
    check_eq(delta_total(pts, "stampede_http_req_duration", "count"), reqs,
             "sum of the delta stampede_http_req_duration counts")
    check_eq(delta_total(pts, "http.client.request.duration", "count"), reqs,
             "sum of the delta http.client.request.duration counts")
    check_eq(delta_total(pts, "stampede_data_received"), summary_count(r, "data_received"),
             "sum of the delta stampede_data_received points")
    # Each delta point covers the interval since the previous export: for a
    # series in consecutive exports, since its previous point. (A series with
    # nothing new in an interval may be left out of that export.)
    export_times = sorted({int(p["time_ns"]) for p in pts})
    check(len(export_times) >= 3, "at least 3 exports in 3 s at a 1 s interval: %d" % len(export_times))
    deltas = sorted((p for p in pts if p["temporality"] == DELTA), key=lambda p: int(p["time_ns"]))
    previous_export = {t_: prev for prev, t_ in zip(export_times, export_times[1:])}
    first_starts = set()
    last_of_series = {}
    consecutive = 0
    for p in deltas:
        start, end = int(p["start_ns"]), int(p["time_ns"])
        check(start < end, "delta point start < time (%s)" % p["metric"])
        if end == export_times[0]:
            first_starts.add(start)
        else:
            check_eq(start, previous_export[end],
                     "start of a delta point of %s vs the previous export's time" % p["metric"])
        prev = last_of_series.get(series_key(p))
        if prev is not None and previous_export.get(end) == int(prev["time_ns"]):
            check_eq(start, int(prev["time_ns"]),
                     "start of a delta point of %s vs the series' previous point" % p["metric"])
            if p["metric"] == "stampede_http_reqs":
                consecutive += 1
        last_of_series[series_key(p)] = p
    check(len(first_starts) <= 1, "the first export's delta points share one start (the run's): %r" % first_starts)
    check(consecutive >= 1, "stampede_http_reqs points in two consecutive exports (a steady load)")
    # A point's [start, time] holds the measurements made in it: the requests
    # that ended well before an export's time are counted by then (250 ms for
    # the engine's snapshot cadence).
    ends = sorted(int(s["end_ns"]) for s in o.ours(sink.spans()) if s["kind"] == 3)
    run_start = min(int(p["start_ns"]) for p in pts if int(p["start_ns"]) > 0)
    for t_ in export_times:
        counted = sum(p["value"] for p in deltas
                      if p["metric"] == "stampede_http_reqs" and int(p["time_ns"]) <= t_)
        ended = bisect.bisect_left(ends, t_ - 250_000_000)
        check(counted >= ended,
              "delta stampede_http_reqs up to the export at %.3f s into the run: %d, but %d requests "
              "had ended 250 ms before it (their CLIENT spans say so): the points are stamped later "
              "than their measurements" % ((t_ - run_start) / 1e9, counted, ended))


def make_transport_case(protocol, letter):
    def fn(t):
        sink = Sink(t)
        ngx = t.nginx()
        r = t.run("--url", ngx.url, "--vus", "2", "--duration", "2s", "--otel",
                  env=metrics_env(sink, protocol))
        r.expect_rc(0)
        pts = sink.points()
        check(pts, "the collector got no data points over %s\n%s" % (protocol, r.stderr[-2000:]))
        check_eq({p["transport"] for p in pts}, {protocol}, "transports of the points")
        for name in ("stampede_http_reqs", "stampede_http_req_duration", "http.client.request.duration",
                     "stampede_vus", "http.client.open_connections"):
            only(pts, name)
        reqs = summary_count(r, "http_reqs")
        check_eq(final_total(pts, "stampede_http_reqs"), reqs, "final stampede_http_reqs")
        check_eq(sum(p["count"] for p in final_points(only(pts, "http.client.request.duration"))), reqs,
                 "final http.client.request.duration count")
        check(any(e for p in only(pts, "http.client.request.duration") for e in p["exemplars"]),
              "exemplars over %s" % protocol)
        check_eq(otel_metrics_json(r)["points_exported"], len(pts), "points exported vs received")
    fn.__name__ = "c_%s_metrics_over_%s" % (letter, protocol.replace("/", "_"))
    return fn


case(make_transport_case("http/json", "1"))
case(make_transport_case("grpc", "2"))


@case
def c_3_explicit_bucket_histogram(t):
    sink = Sink(t)
    ngx = t.nginx()
    r = t.run("--url", ngx.url, "--vus", "2", "--duration", "2s", "--otel",
              env=metrics_env(sink, OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=
                              "explicit_bucket_histogram"))
    r.expect_rc(0)
    pts = sink.points()
    check(not [p for p in pts if p["type"] == "exponential_histogram"],
          "exponential histograms with explicit_bucket_histogram")
    reqs = summary_count(r, "http_reqs")
    seconds = [p for p in pts if p["type"] == "histogram" and p["unit"] == "s"]
    names = {p["metric"] for p in seconds}
    for name in ("stampede_http_req_duration", "http.client.request.duration", "stampede_http_req_waiting"):
        check(name in names, "no explicit histogram %r (got %s)" % (name, sorted(names)))
    for p in seconds:
        check_eq(p["bounds"], SEMCONV_S_BOUNDS, "%s explicit bounds" % p["metric"])
        check_eq(len(p["bucket_counts"]), len(p["bounds"]) + 1, "%s bucket count" % p["metric"])
        check_eq(sum(p["bucket_counts"]), p["count"], "%s bucket counts sum to count" % p["metric"])
        check_eq(p["temporality"], CUMULATIVE, "%s temporality" % p["metric"])
    for name in ("stampede_http_req_duration", "http.client.request.duration"):
        check_eq(sum(p["count"] for p in final_points(only(pts, name))), reqs, "final %s count" % name)
    # nginx on loopback answers in well under 5 ms at the median: most
    # requests are in the first bucket, none in the overflow bucket.
    final = final_points(only(pts, "http.client.request.duration"))
    check_eq(sum(p["bucket_counts"][-1] for p in final), 0, "requests slower than 10 s")
    check(sum(p["bucket_counts"][0] for p in final) * 2 > reqs,
          "most requests under 5 ms: %r" % [p["bucket_counts"] for p in final])


CARDINALITY_SCRIPT = """
local http = require("stampede.http")
options = { vus = 1, duration = "2500ms" }
function default()
  for i = 1, 10 do
    http.get(ENV.URL, { name = "/item/" .. ((vu.iteration * 10 + i) % 40) })
  end
end
"""


@case
def d_cardinality_limit_overflow(t):
    sink = Sink(t)
    ngx = t.nginx()
    script = write_script(t, "cardinality.lua", CARDINALITY_SCRIPT)
    r = t.run(script, "-e", "URL=" + ngx.url, "--otel", "--otel-metric-cardinality-limit", "5",
              env=metrics_env(sink))
    r.expect_rc(0)
    reqs = summary_count(r, "http_reqs")
    check(reqs >= 40, "the script ran through its 40 names (%d requests)" % reqs)
    pts = sink.points()
    for name in ("stampede_http_reqs", "stampede_http_req_duration", "http.client.request.duration"):
        ps = only(pts, name)
        over = [p for p in ps if "otel.metric.overflow" in p["attributes"]]
        check(over, "%s has no overflow point" % name)
        for p in over:
            check(p["attributes"]["otel.metric.overflow"] is True,
                  "otel.metric.overflow is the boolean true: %r" % p["attributes"])
            check_eq(list(p["attributes"]), ["otel.metric.overflow"], "the overflow point's attributes")
        for ts in {p["time_ns"] for p in ps}:
            n = len({series_key(p) for p in ps if p["time_ns"] == ts})
            check(n <= 5, "%s: %d series in one export (limit 5)" % (name, n))
    for p in only(pts, "stampede_http_reqs"):
        a = p["attributes"]
        if "otel.metric.overflow" not in a:
            check(a.get("name", "").startswith("/item/"), "the request name is the name attribute: %r" % a)
            check("scenario" not in a and a.get("stampede.scenario") == "default",
                  "the scenario tag becomes stampede.scenario: %r" % a)
    check_eq(final_total(pts, "stampede_http_reqs"), reqs, "final stampede_http_reqs, overflow included")
    check_eq(sum(p["count"] for p in final_points(only(pts, "http.client.request.duration"))), reqs,
             "final http.client.request.duration count, overflow included")
    # One warning per metric, naming it; not one per export.
    lines = [ln for ln in r.stderr.splitlines() if "cardinality" in ln]
    named = {}
    for name in {p["metric"] for p in pts}:
        word = re.compile(r"(?<![\w.])%s(?![\w.])" % re.escape(name))
        n = sum(1 for ln in lines if word.search(ln))
        if n:
            named[name] = n
    check_eq(named.get("stampede_http_reqs"), 1,
             "warning lines naming stampede_http_reqs (stderr:\n%s)" % r.stderr[-2000:])
    check(all(v == 1 for v in named.values()), "a metric warned about more than once: %r" % named)
    check(len({p["time_ns"] for p in pts}) >= 2, "several exports (so warnings could repeat)")


@case
def e_sigint_exports_the_last_interval(t):
    sink = Sink(t)
    ngx = t.nginx()
    p, export = t.spawn("--url", ngx.url, "--vus", "2", "--duration", "60s", "--otel",
                        env=metrics_env(sink))
    h.wait_for(lambda: sink.stats()["points"] > 0, "a first metrics export", proc=p, attempts=150)
    p.send_signal(signal.SIGINT)
    h.wait_exit(p, 40, "SIGINT")
    r = t.collect(p, export)
    r.expect_rc(h.EXIT_SIGNAL)
    reqs = summary_count(r, "http_reqs")
    pts = sink.points()
    last_time = max(int(x["time_ns"]) for x in pts)
    last = [x for x in pts if int(x["time_ns"]) == last_time]
    check_eq(sum(x["value"] for x in last if x["metric"] == "stampede_http_reqs"), reqs,
             "stampede_http_reqs in the final export vs the summary")
    check(len({x["time_ns"] for x in pts}) >= 2, "a periodic export and a final one")
    m = otel_metrics_json(r)
    check_eq(m["points_exported"], len(pts), "points exported vs received")


@case
def f_1_collector_503_then_200_is_retried(t):
    sink = Sink(t, "--mode", "503", "--fault-count", "2", "--fault-signal", "metrics")
    ngx = t.nginx()
    # The first export at 1 s, two retries after backoffs of 0.5-1 s and
    # 1-2 s: the run lasts long enough for the third attempt. No spans (the
    # sink's time goes to the metrics).
    r = t.run("--url", ngx.url, "--vus", "1", "--duration", "5s", "--otel",
              env=metrics_env(sink, OTEL_TRACES_EXPORTER="none"))
    r.expect_rc(0)
    st = sink.stats()
    check_eq(st["metric_replies"].get("503"), 2, "503 answers to metrics exports")
    check(st["metric_replies"].get("200", 0) >= 1, "a metrics export answered 200: %r" % st)
    m = otel_metrics_json(r)
    check_eq(m["points_failed"], 0, "points_failed")
    check_eq(m["points_exported"], len(sink.points()), "points exported vs received")
    check_eq(final_total(sink.points(), "stampede_http_reqs"), summary_count(r, "http_reqs"),
             "final stampede_http_reqs after the retries")


@case
def f_2_partial_success_counts_rejected_points(t):
    sink = Sink(t, "--mode", "partial", "--rejected", "3", "--fault-count", "1",
                "--fault-signal", "metrics")
    ngx = t.nginx()
    r = t.run("--url", ngx.url, "--vus", "1", "--iterations", "100", "--otel", env=metrics_env(sink))
    h.check_success(r, 100)
    m = otel_metrics_json(r)
    check_eq(m.get("points_rejected"), 3, "points_rejected")
    check_eq(m["points_failed"] + m["points_dropped"], 0, "points failed + dropped")
    check_eq(m["points_exported"] + 3, len(sink.points()), "points exported + rejected vs received")
    check_eq(len(metrics_warnings(r.stderr)), 1, "warning lines (stderr:\n%s)" % r.stderr)
    r.stdout_has_line(r"^   metrics: .*\b3 rejected by the collector", "3 rejected points")


@case
def f_3_collector_down_is_counted_and_bounded(t):
    port = h.free_port()
    ngx = t.nginx()
    env = dict(INTERVAL_ENV, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:%d" % port,
               OTEL_BSP_EXPORT_TIMEOUT="2000")
    r = t.run("--url", ngx.url, "--vus", "2", "--iterations", "200", "--otel", env=env, timeout=60)
    h.check_success(r, 200)
    m = otel_metrics_json(r)
    check_eq(m["points_exported"], 0, "points exported to nothing")
    check(m["points_failed"] + m["points_dropped"] > 0, "lost points are counted: %r" % m)
    check_eq(len(metrics_warnings(r.stderr)), 1,
             "warning lines about OTLP metrics (stderr:\n%s)" % r.stderr[-2000:])
    r.stdout_has_line(r"^   metrics: 0 points exported", "metrics line")


K6_SCRIPT = """
local http = require("stampede.http")
options = { vus = 2, iterations = 40 }
function default()
  local res = http.get(ENV.URL)
  check(res, { ["is 200"] = function(r) return r.status == 200 end })
end
"""


@case
def g_k6_command_line_over_grpc(t):
    sink = Sink(t)
    ngx = t.nginx()
    script = write_script(t, "test.lua", K6_SCRIPT)
    k6_env = {"K6_OTEL_GRPC_EXPORTER_INSECURE": "true", "K6_OTEL_METRIC_PREFIX": "k6_",
              "K6_OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:%d" % sink.grpc_port,
              "URL": ngx.url}
    r = t.run("--out", "experimental-opentelemetry", script, env=k6_env)
    h.check_success(r, 40)
    pts = sink.points()
    check(pts, "the gRPC sink got no data points\n" + r.stderr[-2000:])
    check_eq({p["transport"] for p in pts}, {"grpc"}, "transports")
    names = {p["metric"] for p in pts}
    for name in ("k6_http_reqs", "k6_http_req_duration", "k6_iterations"):
        check(name in names, "no %r (got %s)" % (name, sorted(names)))
    check(not [n for n in names if n.startswith("stampede_")], "stampede_ names with the k6_ prefix")
    check_eq(final_total(pts, "k6_http_reqs"), 40, "final k6_http_reqs")
    check_shape(pts, "k6_checks", "sum", "{check}", True)
    checks = final_points(only(pts, "k6_checks"))
    check_eq(sorted((p["attributes"].get("condition"), p["value"]) for p in checks if p["value"]),
             [("nonzero", 40)], "k6_checks (a k6 Rate: 40 passed checks)")
    check(all(p["attributes"].get("check") == "is 200" for p in checks), "k6_checks' check attribute")
    check(not [ln for ln in r.stderr.splitlines() if "K6_OTEL" in ln],
          "no note about K6_OTEL_* when nothing conflicts: %r" % r.stderr)

    # A standard variable set too wins, and one stderr line says so.
    other = Sink(t)
    r = t.run("--out", "experimental-opentelemetry", script,
              env=dict(k6_env, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT="http://127.0.0.1:%d" % other.grpc_port))
    h.check_success(r, 40)
    notes = [ln for ln in r.stderr.splitlines() if "K6_OTEL_EXPORTER_OTLP_ENDPOINT" in ln]
    check_eq(len(notes), 1, "stderr lines about K6_OTEL_EXPORTER_OTLP_ENDPOINT (stderr:\n%s)" % r.stderr)
    check("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" in notes[0], "the note names the winner: %r" % notes[0])
    check_eq(final_total(other.points(), "k6_http_reqs"), 40, "k6_http_reqs at the standard endpoint")
    check_eq(len(sink.points()), len(pts), "points at the k6 endpoint after the standard one won")


# --------------------------------------------------------------------------

def main():
    default_bin = os.environ.get("STAMPEDE") or os.path.join(
        os.path.dirname(os.path.dirname(HERE)), "build", "src", "cli", "stampede")
    ap = argparse.ArgumentParser(description="stampede OTLP metrics end-to-end tests")
    ap.add_argument("--stampede", default=default_bin, help="path to the stampede binary")
    ap.add_argument("--only", default=None,
                    help="run one case: its full name or its letter prefix (e.g. b, c_2)")
    ap.add_argument("-k", dest="filter", default=None, help="run cases whose name contains this")
    ap.add_argument("--list", action="store_true", help="list case names and exit")
    ap.add_argument("--keep-tmp", action="store_true", help="keep per-case temp dirs")
    args = ap.parse_args()

    def wanted(c):
        n = c.__name__
        if args.only and not (n == args.only or n.startswith(args.only + "_")):
            return False
        return not args.filter or args.filter in n
    cases = [c for c in h.CASES if wanted(c)]
    if args.list:
        for c in cases:
            print(c.__name__)
        return 0
    binary = os.path.abspath(args.stampede)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print("FAIL setup: stampede binary not found or not executable: %s" % binary)
        print("0 passed, 1 failed")
        return 1
    if not cases:
        print("FAIL setup: no case matches --only %r -k %r" % (args.only, args.filter))
        print("0 passed, 1 failed")
        return 1
    return h.run_cases(h.Runner(binary, args.keep_tmp), cases, lambda c: c.__name__)


if __name__ == "__main__":
    sys.exit(main())
