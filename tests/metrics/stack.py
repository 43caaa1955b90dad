"""A real fala-clip stack and a real Prometheus server, for the end-to-end metrics tests.

The stack runs the way ``scripts/serve.sh`` runs it: gunicorn with
``-c fala_clip/gunicorn_conf.py`` and 2 workers, ``manage.py worker heavy`` and
``manage.py worker default``, every process with the same freshly wiped
``PROMETHEUS_MULTIPROC_DIR``.  Prometheus is Debian's ``/usr/bin/prometheus`` (the package
that ships ``promtool``) on a free loopback port, scraping the stack every second and
evaluating a copy of ``metrics/prometheus/alerts.yml`` whose SLA threshold is shortened.

Also here: the PromQL metric-name extraction the dashboard test uses.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.conftest import REPO_ROOT
from tests.procwatch import descendants, proc_alive, wait_until

ALERTS = REPO_ROOT / "metrics" / "prometheus" / "alerts.yml"
PROMETHEUS = Path("/usr/bin/prometheus")
JOB_NAME = "fala-clip"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http() -> requests.Session:
    """A session that never goes through a proxy from the environment (loopback only)."""
    session = requests.Session()
    session.trust_env = False
    return session


class Proc:
    """A started process with its log file; ``stop`` ends it and everything below it."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log: Path):
        self.name = name
        self.log = log
        with log.open("w") as out:
            self.popen = subprocess.Popen(
                args, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self, *, grace: float = 15.0) -> None:
        """SIGTERM (a clean exit folds metrics, ends RQ's warm shutdown), then SIGKILL what is left.

        RQ work-horses call setsid(), so the tree is found by parentage, not by process group.
        """
        tree = [self.pid, *descendants(self.pid)]
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        for pid in [*tree, *descendants(self.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.popen.wait(timeout=30)
        wait_until(lambda: not any(proc_alive(p) for p in tree), timeout=10)


class FalaStack:
    """gunicorn (2 workers, the gunicorn config) + RQ workers sharing one metrics directory."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.root = root
        self.multiproc_dir = root / "prometheus-multiproc"
        # Wiped before any process starts, as scripts/serve.sh does.
        if self.multiproc_dir.exists():
            shutil.rmtree(self.multiproc_dir)
        self.multiproc_dir.mkdir(parents=True)
        self.env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(self.multiproc_dir)}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: list[Proc] = []
        self.session = http()

    def start_web(self, workers: int = 2) -> Proc:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        args = [gunicorn, "fala_clip.wsgi", "-c", "fala_clip/gunicorn_conf.py", "--bind", f"127.0.0.1:{self.port}"]
        args += ["--workers", str(workers), "--timeout", "120"]
        web = self._start("web", args)

        def answers() -> bool:
            assert web.running(), f"gunicorn exited ({web.popen.returncode}):\n{web.tail()}"
            try:
                return self.session.get(f"{self.url}/metrics", timeout=10).status_code == 200
            except requests.RequestException:
                return False

        assert wait_until(answers, timeout=120, interval=0.2), f"gunicorn did not serve /metrics:\n{web.tail()}"
        return web

    def start_worker(self, queue: str) -> Proc:
        return self._start(f"worker-{queue}", [sys.executable, "manage.py", "worker", queue])

    def _start(self, name: str, args: list[str]) -> Proc:
        proc = Proc(name, args, env=self.env, log=self.root / f"{name}.log")
        self.procs.append(proc)
        return proc

    def scrape(self) -> str:
        response = self.session.get(f"{self.url}/metrics", timeout=30)
        response.raise_for_status()
        return response.text

    def stop(self) -> None:
        # Workers first (a worker's SIGTERM waits for its horse), the web last.
        for proc in reversed(self.procs):
            proc.stop()


def shortened_rules(*, sla_seconds: int, for_: str) -> str:
    """alerts.yml with the SLA threshold cut from 900 s and the worker/SLA ``for:`` shortened.

    Only those numbers change: the expressions are the ones that ship.
    """
    doc = yaml.safe_load(ALERTS.read_text())
    changed: set[str] = set()
    for group in doc["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert")
            if name == "FalaJobOverSLA":
                expr = re.sub(r">\s*900\b", f"> {sla_seconds}", rule["expr"])
                assert expr != rule["expr"], "FalaJobOverSLA no longer compares with 900"
                rule["expr"] = expr
                rule["for"] = for_
                changed.add(name)
            elif name == "FalaHeavyWorkerDown":
                rule["for"] = for_
                changed.add(name)
    assert changed == {"FalaJobOverSLA", "FalaHeavyWorkerDown"}, changed
    return yaml.safe_dump(doc, sort_keys=False)


class Prometheus:
    """``/usr/bin/prometheus`` on a free loopback port with its own config, rules and TSDB."""

    def __init__(self, root: Path, *, targets: Iterable[str], rules: str):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "alerts.yml").write_text(rules)
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(root / "alerts.yml")],
            "scrape_configs": [
                {"job_name": JOB_NAME, "metrics_path": "/metrics", "static_configs": [{"targets": list(targets)}]}
            ],
        }
        (root / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.session = http()
        self.proc: Proc | None = None

    def start(self) -> Prometheus:
        args = [
            str(PROMETHEUS),
            f"--config.file={self.root / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.root / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        self.proc = Proc("prometheus", args, env=dict(os.environ), log=self.root / "prometheus.log")

        def ready() -> bool:
            assert self.proc is not None
            assert self.proc.running(), f"prometheus exited:\n{self.proc.tail()}"
            try:
                return self.session.get(f"{self.url}/-/ready", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        assert wait_until(ready, timeout=60, interval=0.2), f"prometheus not ready:\n{self.proc.tail()}"
        return self

    def _get(self, path: str, **params: Any) -> Any:
        response = self.session.get(f"{self.url}{path}", params=params, timeout=30)
        body = response.json()
        assert body.get("status") == "success", (path, params, body)
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; each result's ``value`` as a float in ``"v"``."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        result = self._get("/api/v1/query", **params)["result"]
        for item in result:
            item["v"] = float(item["value"][1])
        return result

    def alerts(self) -> list[dict[str, Any]]:
        return self._get("/api/v1/alerts")["alerts"]

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


def wait_for_value(prom: Prometheus, expr: str, *, timeout: float) -> list[dict[str, Any]]:
    """Poll ``expr`` until it returns a non-empty result (e.g. ``x == 1``); the last result."""
    return wait_until(lambda: prom.query(expr), timeout=timeout, interval=0.25)


# --- metric names in PromQL -------------------------------------------------------------

#: Aggregation operators, functions and keywords: identifiers that are never metric names.
PROMQL_WORDS = frozenset(
    """
    sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio
    by without on ignoring group_left group_right bool offset and or unless atan2 start end
    abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp
    clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month
    deg delta deriv exp floor histogram_avg histogram_count histogram_fraction histogram_quantile
    histogram_stddev histogram_stdvar histogram_sum holt_winters double_exponential_smoothing hour
    idelta increase irate label_join label_replace last_over_time ln log10 log2 mad_over_time
    max_over_time min_over_time minute month pi predict_linear present_over_time quantile_over_time
    rad rate resets round scalar sgn sin sinh sort sort_desc sort_by_label sort_by_label_desc sqrt
    stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp vector year
    inf nan
    """.split()  # noqa: SIM905 - a word list reads better than 120 quoted strings
)
#: Keywords followed by a parenthesised list of label names (not metrics).
_LABEL_LIST_WORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"(0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)([a-zA-Z]+[0-9a-zA-Z]*)*")


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == "\\" and quote != "`" else 1
    return i + 1


def _skip_block(text: str, i: int, close: str) -> int:
    """From an opening ``{``/``[``/``(`` at ``i`` to just after its ``close``, strings respected."""
    i += 1
    while i < len(text) and text[i] != close:
        i = _skip_string(text, i) if text[i] in "\"'`" else i + 1
    return i + 1


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects.

    A name is an identifier used as a selector: bare, or followed by ``{`` (label matchers)
    or ``[`` (a range).  Skipped: functions and aggregations (an identifier followed by
    ``(``, or a known PromQL word such as ``sum`` in ``sum by (le) (...)``), the label lists
    after ``by``/``without``/``on``/``ignoring``/``group_*``, everything inside ``{...}`` and
    ``[...]`` (label names and values, durations, Grafana's ``$__rate_interval``), strings,
    numbers and durations.  ``{__name__="x"}`` selectors count as ``x``.
    """
    names: set[str] = set()
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c in "\"'`":
            i = _skip_string(expr, i)
        elif c == "{":
            end = _skip_block(expr, i, "}")
            m = re.search(r"__name__\s*=\s*[\"']([A-Za-z_:][A-Za-z0-9_:]*)[\"']", expr[i:end])
            if m:
                names.add(m.group(1))
            i = end
        elif c == "[":
            i = _skip_block(expr, i, "]")
        elif c == "#":  # a comment runs to the end of the line
            nl = expr.find("\n", i)
            i = n if nl < 0 else nl
        elif c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            m = _NUMBER.match(expr, i)
            i = m.end() if m and m.end() > i else i + 1
        elif c == "$":  # a Grafana variable outside a selector, e.g. a whole-query variable
            m = re.compile(r"\$\{?[A-Za-z0-9_]+\}?").match(expr, i)
            i = m.end() if m else i + 1
        elif _IDENT.match(expr, i):
            m = _IDENT.match(expr, i)
            assert m is not None
            word, i = m.group(0), m.end()
            j = i
            while j < n and expr[j].isspace():
                j += 1
            following = expr[j] if j < n else ""
            if word.lower() in _LABEL_LIST_WORDS:  # PromQL keywords ignore case (BY, Inf)
                if following == "(":
                    i = _skip_block(expr, j, ")")
            elif following == "(" or word.lower() in PROMQL_WORDS:
                continue
            else:
                names.add(word)
        else:
            i += 1
    return names


def exposed_names(text: str) -> set[str]:
    """The sample names of a scrape in the text format (``x_bucket``, ``x_sum``, ``x_total`` …)."""
    from prometheus_client.parser import text_string_to_metric_families

    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
