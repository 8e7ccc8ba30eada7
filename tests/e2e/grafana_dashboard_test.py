#!/usr/bin/env python3
"""Checks deploy/grafana/stampede.json against what stampede really exports
(python3 stdlib only).

    python3 tests/e2e/grafana_dashboard_test.py --stampede build/src/cli/stampede
                                                [--dashboard deploy/grafana/stampede.json]

The dashboard must be well-formed (schemaVersion >= 36, unique panel ids,
every target has a PromQL expr and a datasource, the latency panel has
exemplars on, a Prometheus data source variable and a run_id variable over
label_values(stampede_run_info, run_id)), and every metric name in every
PromQL expression must be a sample name stampede exposes on /metrics, as
printed by `stampede metrics-list` (one name per line). A dashboard that
queries a metric nobody exports draws empty panels silently; this test is
what keeps the two in step.

Prints one line per check and exactly `N passed, M failed`; exits non-zero on
any failure.
"""

import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_DASHBOARD = os.path.join(REPO, "deploy", "grafana", "stampede.json")

# PromQL words that are not metric names.
PROMQL_WORDS = {
    # aggregation operators and modifiers
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile", "limitk", "limit_ratio", "by", "without", "on", "ignoring",
    "group_left", "group_right", "offset", "bool", "and", "or", "unless", "atan2", "start",
    "end", "inf", "nan",
}
NAME_RE = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names_in(expr):
    """Metric names used in a PromQL expression (a small lexer, enough for
    dashboard queries): strings, label matchers `{...}`, ranges `[...]`,
    grouping clauses `by (...)` and the like, and Grafana variables are
    removed; an identifier followed by '(' is a function; what remains are
    metric names."""
    s = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)      # strings
    s = re.sub(r"'(?:\\.|[^'\\])*'", "''", s)
    s = re.sub(r"\{[^}]*\}", " ", s)                     # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)                    # ranges, subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", s)
    s = re.sub(r"\$\{?\w+\}?", " ", s)                  # Grafana variables
    names = set()
    for m in NAME_RE.finditer(s):
        word = m.group(0)
        start, end = m.start(), m.end()
        if start > 0 and (s[start - 1].isdigit() or s[start - 1] == "."):
            continue  # part of a number such as 1e3 or 0.95
        rest = s[end:].lstrip()
        if rest.startswith("("):
            continue  # a function call
        if word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def exported_names(stampede):
    """Sample names from `stampede metrics-list`; raises with a clear message."""
    try:
        p = subprocess.run([stampede, "metrics-list"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise AssertionError("cannot run %s metrics-list: %s" % (stampede, e))
    if p.returncode != 0:
        raise AssertionError(
            "`%s metrics-list` failed (exit %d): %s — the dashboard test needs it to list every "
            "Prometheus sample name stampede exports, one per line"
            % (stampede, p.returncode, (p.stderr or p.stdout).strip()[:500]))
    names = {ln.strip() for ln in p.stdout.splitlines() if ln.strip()}
    if not names:
        raise AssertionError("`stampede metrics-list` printed no names")
    return names


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, fn):
        try:
            fn()
        except AssertionError as e:
            self.failed += 1
            print("FAIL %s: %s" % (name, e))
            return
        except Exception as e:  # a bug in the dashboard's shape, reported, not a traceback
            self.failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            return
        self.passed += 1
        print("PASS %s" % name)


def all_panels(dashboard):
    out = []
    for p in dashboard.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))  # collapsed rows
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stampede", required=True, help="path to the stampede binary")
    ap.add_argument("--dashboard", default=DEFAULT_DASHBOARD)
    args = ap.parse_args()
    r = Results()

    state = {}

    def load():
        with open(args.dashboard, encoding="utf-8") as f:
            state["d"] = json.load(f)
        assert isinstance(state["d"], dict), "the dashboard is not a JSON object"
    r.check("dashboard_is_json", load)
    if "d" not in state:
        print("%d passed, %d failed" % (r.passed, r.failed))
        return 1
    d = state["d"]
    panels = all_panels(d)
    targets = [(p, t) for p in panels for t in p.get("targets", [])]

    def schema():
        v = d.get("schemaVersion")
        assert isinstance(v, int) and v >= 36, "schemaVersion %r < 36" % (v,)
        assert d.get("title"), "no title"
        assert d.get("uid"), "no uid (links and provisioning need a stable one)"
    r.check("schema_version_title_uid", schema)

    def panel_ids():
        ids = [p.get("id") for p in panels]
        assert all(isinstance(i, int) for i in ids), "panels without an integer id: %r" % [
            p.get("title") for p in panels if not isinstance(p.get("id"), int)]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        assert not dup, "duplicate panel ids: %r" % dup
        for p in panels:
            g = p.get("gridPos", {})
            assert all(k in g for k in ("h", "w", "x", "y")), "panel %r has no gridPos" % p.get("title")
    r.check("panel_ids_unique", panel_ids)

    def target_exprs():
        assert targets, "no query targets at all"
        for p, t in targets:
            assert isinstance(t.get("expr"), str) and t["expr"].strip(), \
                "panel %r has a target without expr" % p.get("title")
            assert t.get("refId"), "panel %r has a target without refId" % p.get("title")
            ds = t.get("datasource") or p.get("datasource")
            assert isinstance(ds, dict) and ds.get("type") == "prometheus", \
                "panel %r target %s has no prometheus datasource" % (p.get("title"), t.get("refId"))
            assert ds.get("uid") in ("${datasource}", "${DS_PROMETHEUS}", "$datasource"), \
                "panel %r uses a fixed datasource uid %r" % (p.get("title"), ds.get("uid"))
            assert t["expr"].count("(") == t["expr"].count(")"), "unbalanced parentheses: %s" % t["expr"]
    r.check("targets_have_expr_and_datasource", target_exprs)

    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}

    def datasource_var():
        ds = [v for v in variables.values() if v.get("type") == "datasource"]
        assert ds and ds[0].get("query") == "prometheus", "no Prometheus data source variable"
        assert any(i.get("name") == "DS_PROMETHEUS" for i in d.get("__inputs", [])), \
            "no DS_PROMETHEUS input for importing"
    r.check("datasource_variable", datasource_var)

    def run_id_var():
        v = variables.get("run_id")
        assert v, "no run_id variable (has: %r)" % sorted(variables)
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        assert q == "label_values(stampede_run_info, run_id)", "run_id query is %r" % q
        for p, t in targets:
            assert "$run_id" in t["expr"], "panel %r does not filter on $run_id" % p.get("title")
    r.check("run_id_variable_filters_every_query", run_id_var)

    def latency_exemplars():
        lat = [(p, t) for p, t in targets
               if "stampede_http_req_duration_seconds_bucket" in t["expr"]
               and "histogram_quantile" in t["expr"]]
        assert lat, "no latency quantile query on stampede_http_req_duration_seconds_bucket"
        for p, t in lat:
            assert t.get("exemplar") is True, "latency target %s of %r has no exemplar flag" % (
                t.get("refId"), p.get("title"))
        quantiles = {re.search(r"histogram_quantile\(\s*([0-9.]+)", t["expr"]).group(1)
                     for _, t in lat}
        assert {"0.5", "0.95", "0.99"} <= quantiles, "quantiles shown: %r" % sorted(quantiles)
        assert any("by (le, name)" in t["expr"] for _, t in lat), "latency not split by name"
    r.check("latency_panel_has_exemplars", latency_exemplars)

    def required_panels():
        exprs = " ".join(t["expr"] for _, t in targets)
        for metric in ("stampede_vus", "stampede_http_reqs_total", "stampede_http_req_failed_total",
                       "stampede_checks_total", "stampede_dropped_iterations_total",
                       "stampede_spans_dropped_total"):
            assert metric in exprs, "no panel queries %s" % metric
        assert "error_code" in exprs, "no errors-by-type panel (error_code)"
    r.check("required_panels", required_panels)

    def lexer_self_test():
        got = metric_names_in('histogram_quantile(0.95, sum by (le, name) (rate(a_bucket{x="y"}'
                              '[$__rate_interval]) * on (job) group_left (run_id) b_info{r=~"$r"}))'
                              ' / 1e3 + count(c) or vector(0)')
        assert got == {"a_bucket", "b_info", "c"}, got
    r.check("promql_lexer_self_test", lexer_self_test)

    def names_exported():
        exported = exported_names(os.path.abspath(args.stampede))
        missing = {}
        for p, t in targets:
            for name in metric_names_in(t["expr"]):
                if name not in exported:
                    missing.setdefault(name, set()).add(p.get("title"))
        assert not missing, "queried but not exported by stampede (metrics-list): %s" % "; ".join(
            "%s (in %s)" % (n, ", ".join(sorted(ps))) for n, ps in sorted(missing.items()))
    r.check("every_queried_metric_is_exported", names_exported)

    print("%d passed, %d failed" % (r.passed, r.failed))
    return 0 if r.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
