"""The alert rules in ``metrics/prometheus/``: valid for Prometheus, unit-tested, documented.

``promtool`` comes from Debian's ``prometheus`` package (``scripts/system-deps.sh --test``,
run by ``make test``, installs it).  Without it the promtool tests skip on a developer's
machine, but fail in CI (``CI`` set): a rule file nobody checked must not pass CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

RULES_DIR = REPO_ROOT / "metrics" / "prometheus"
ALERTS = RULES_DIR / "alerts.yml"
ALERTS_TEST = RULES_DIR / "alerts_test.yml"
OPERATIONS = REPO_ROOT / "docs" / "operations.md"
SEVERITIES = {"critical", "warning", "info"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path:
        return path
    message = "promtool not found: `scripts/system-deps.sh --test` installs Debian's prometheus package"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: the alert rules must be checked here)")
    pytest.skip(message)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=120, check=False)


def alert_rules() -> list[dict]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    anchors: set[str] = set()
    for line in markdown.splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
        if m:
            text = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def test_promtool_check_rules_accepts_the_rule_file():
    result = _run("check", "rules", ALERTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout, result.stdout


def test_promtool_unit_tests_pass():
    result = _run("test", "rules", ALERTS_TEST.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "FAILED" not in result.stdout, result.stdout


def test_promtool_unit_tests_do_fail_on_a_wrong_expectation(tmp_path):
    """The harness notices a broken expectation (guards against tests that cannot fail)."""
    shutil.copy(ALERTS, tmp_path / ALERTS.name)
    broken = ALERTS_TEST.read_text().replace("created 17m 0s ago", "created 16m 0s ago", 1)
    assert broken != ALERTS_TEST.read_text()
    (tmp_path / ALERTS_TEST.name).write_text(broken)
    result = subprocess.run(
        [promtool(), "test", "rules", ALERTS_TEST.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "FalaJobOverSLA" in result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case():
    tests = yaml.safe_load(ALERTS_TEST.read_text())["tests"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for group in tests:
        for case in group.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts without a firing test case"
    assert names - quiet == set(), "alerts without a not-firing test case"
    assert (firing | quiet) - names == set(), "test cases for alerts that do not exist"


def test_every_alert_has_severity_summary_description_and_a_runbook_section():
    anchors = github_anchors(OPERATIONS.read_text())
    rules = alert_rules()
    assert len({r["alert"] for r in rules}) == len(rules), "duplicate alert names"
    for rule in rules:
        name = rule["alert"]
        assert rule.get("labels", {}).get("severity") in SEVERITIES, name
        notes = rule.get("annotations", {})
        assert notes.get("summary") and notes.get("description"), name
        assert notes.get("runbook_url") == f"docs/operations.md#{name.lower()}", name
        assert name.lower() in anchors, f"docs/operations.md has no section '{name}' for the runbook of {name}"


def test_sla_threshold_is_fifteen_minutes_and_cpu_eighty_percent_for_ten():
    """The numbers the product promises (DESIGN §1, §9), read from the rules themselves."""
    rules = {r["alert"]: r for r in alert_rules()}
    assert re.search(r"fala_job_oldest_unfinished_age_seconds\)\s*>\s*900\b", rules["FalaJobOverSLA"]["expr"])
    assert re.search(r">\s*900\s*$", rules["FalaJobP95OverSLA"]["expr"].strip())
    assert re.search(r">\s*0\.8\s*$", rules["FalaHostCPUHigh"]["expr"].strip())
    assert rules["FalaHostCPUHigh"]["for"] == "10m"


@pytest.mark.parametrize("path", [ALERTS, ALERTS_TEST])
def test_rule_files_are_plain_yaml(path: Path):
    assert isinstance(yaml.safe_load(path.read_text()), dict)
