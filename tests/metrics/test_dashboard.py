"""The provisioned Grafana dashboard: stable ids, a query in every panel, no dead panel.

"Dead" is checked against reality: every metric the dashboard or the alert rules name must be
in a real ``/metrics`` scrape of the running stack after a real workload (``metrics_workload``:
a clip job, two LLM-interpreted feedbacks), and every panel query must be valid PromQL that
the real Prometheus of that workload answers — with data, except the failure panels (the
workload has no failed job).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.metrics.stack import ALERTS, exposed_names, promql_metric_names

GRAFANA = REPO_ROOT / "metrics" / "grafana"
DASHBOARD = GRAFANA / "fala-clip.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "fala-prometheus.yaml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "fala-clip.yaml"
DASHBOARD_UID = "fala-clip-overview"
DATASOURCE_UID = "fala-prometheus"
#: Series Prometheus makes itself, never in a scrape.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS", "ALERTS_FOR_STATE"}
#: Grafana's built-in variables and ours, as the values the checks substitute.
VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "5m", "$instance": ".*"}


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(dash: dict) -> list[dict]:
    out = []
    for panel in dash["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # a collapsed row keeps its panels inside
    return out


def queries(dash: dict) -> list[tuple[str, str]]:
    """(panel title + refId, expr) of every panel target."""
    return [
        (f"{p['title']} [{t['refId']}]", t["expr"]) for p in panels(dash) if p["type"] != "row" for t in p["targets"]
    ]


def substituted(expr: str) -> str:
    for name, value in sorted(VARIABLES.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unknown variable in {expr}"
    return expr


def variable_metrics(dash: dict) -> set[str]:
    """Metric names in the template variables' ``label_values(metric, label)`` queries."""
    names = set()
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            m = re.fullmatch(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{[^}]*\})?\s*,\s*\w+\s*\)", query)
            assert m, f"variable {var['name']}: unexpected query {query}"
            names.add(m.group(1))
    return names


def alert_exprs() -> list[tuple[str, str]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [(rule["alert"], rule["expr"]) for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def referenced_metrics() -> dict[str, set[str]]:
    """metric name -> where it is used (panels, variables, alerts)."""
    used: dict[str, set[str]] = {}
    dash = dashboard()
    for where, expr in [*queries(dash), *alert_exprs()]:
        for name in promql_metric_names(expr):
            used.setdefault(name, set()).add(where)
    for name in variable_metrics(dash):
        used.setdefault(name, set()).add("variable")
    return used


# --- the JSON and the provisioning files ---------------------------------------------------


def test_dashboard_has_a_stable_uid_and_a_fixed_datasource():
    dash = dashboard()
    assert dash["uid"] == DASHBOARD_UID
    assert dash["title"] and dash["schemaVersion"] >= 36
    assert "__inputs" not in dash and "${DS_" not in DASHBOARD.read_text(), "datasource must be a fixed uid"
    for panel in panels(dash):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, panel["title"]
    for var in dash["templating"]["list"]:
        assert var["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, var["name"]


def test_every_panel_has_a_query_an_id_and_a_place():
    dash = dashboard()
    ids = [p["id"] for p in panels(dash)]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for panel in panels(dash):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel.get("description"), panel["id"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert promql_metric_names(target["expr"]), f"{panel['title']}: no metric in {target['expr']}"


def test_the_panels_operators_asked_for_are_there():
    """Throughput, stage p50/p95, queue depth and oldest job, worker CPU/RAM, failures, tokens, cost."""
    used = referenced_metrics()
    for name in (
        "fala_jobs_total",
        "fala_job_stage_duration_seconds_bucket",
        "fala_queue_depth",
        "fala_queue_oldest_job_age_seconds",
        "fala_process_cpu_seconds_total",
        "fala_process_resident_memory_bytes",
        "gen_ai_client_token_usage_sum",
        "fala_llm_cost_usd_total",
    ):
        assert any(not w.startswith("Fala") for w in used.get(name, ())), f"no panel shows {name}"
    exprs = " ".join(e for _, e in queries(dashboard()))
    for q in ("0.5", "0.95"):
        assert f"histogram_quantile({q}, sum by (stage, le)" in exprs
    assert 'outcome="failed"' in exprs


def test_provisioning_points_at_the_dashboard_and_its_datasource():
    sources = yaml.safe_load(DATASOURCES.read_text())
    assert sources["apiVersion"] == 1
    [source] = sources["datasources"]
    assert source["uid"] == DATASOURCE_UID and source["type"] == "prometheus"
    providers = yaml.safe_load(PROVIDERS.read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
    assert provider["disableDeletion"] is True


def test_every_panel_query_is_valid_promql(tmp_path):
    """promtool parses each query (variables substituted) as a recording rule."""
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool not found (CI is set)")
        pytest.skip("promtool not found: `scripts/system-deps.sh --test` installs Debian's prometheus package")
    exprs = [expr for _, expr in queries(dashboard())]
    rules = [{"record": f"dashboard:query_{i}", "expr": substituted(expr)} for i, expr in enumerate(exprs)]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


# --- the metric-name extraction the next tests rely on --------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('sum by (kind, le) (rate(fala_x_bucket{kind="a,b}"}[5m]))', {"fala_x_bucket"}),
        ("histogram_quantile(0.95, sum by (le) (rate(h_bucket[$__rate_interval]))) > 900", {"h_bucket"}),
        ("(sum(a{q='heavy'}) or on() vector(0)) < 1 and on() max(b{source=\"redis\"}) == 1", {"a", "b"}),
        ("max by (host) (max_over_time(w[1h])) > 0 unless on (host) max by (host) (w) > 0", {"w"}),
        ("a / ignoring(mode) group_left(instance) b offset 5m", {"a", "b"}),
        ("SUM BY (kind) (a) AND b", {"a", "b"}),
        ('{__name__="named_metric", job="x"} + count without (le) (c)', {"named_metric", "c"}),
        ("sum(rate(x_total[1h30m])) * 3600 + 1e3 - 0x1F + Inf", {"x_total"}),
        ("topk(3, sum by (stage) (y)) # a comment naming not_a_metric", {"y"}),
        ('label_replace(z, "dst", "$1", "src", "(.*)")', {"z"}),
    ],
)
def test_metric_names_are_extracted_from_promql(expr, names):
    assert promql_metric_names(expr) == names


def test_every_alert_names_at_least_one_metric():
    for name, expr in alert_exprs():
        assert promql_metric_names(expr), name


# --- against the real scrape and the real Prometheus ----------------------------------------


@pytest.mark.slow
@pytest.mark.django_db
def test_every_metric_in_the_dashboard_and_the_rules_is_in_a_real_scrape(metrics_workload):
    exposed = exposed_names(metrics_workload.metrics_text)
    used = referenced_metrics()
    missing = {name: sorted(where) for name, where in used.items() if name not in exposed and name not in SYNTHETIC}
    assert missing == {}, "named in the dashboard / rules but absent from a real /metrics scrape"
    # and the check is not vacuous
    assert len(used) >= 30 and {"fala_jobs_total", "gen_ai_client_token_usage_sum", "up"} <= set(used)


@pytest.mark.slow
@pytest.mark.django_db
def test_every_panel_shows_data_from_the_real_prometheus(metrics_workload):
    prom = metrics_workload.prometheus
    empty = []
    for where, expr in queries(dashboard()):
        result = prom.query(substituted(expr), at=metrics_workload.t_end)
        if not result:
            empty.append(where)
    # The workload has no failed job, but the closed label sets (kinds x outcomes) exist at 0
    # from start-up (metrics.apps.prime_series), so even the failure panels show a series.
    assert empty == []
