"""The alerts (deploy/prometheus/alerts.yml) checked and unit-tested by Prometheus's own promtool, their routing
(deploy/alertmanager/alertmanager.yml) by Alertmanager's amtool; every app metric a rule names is one /metrics
exports; every alert has its section in docs/operations.md. promtool and amtool are Debian's (`make test`
installs them); missing, these tests are skipped on a workstation and fail in CI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.operations.conftest import Configured

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
OPERATIONS = ROOT / "docs" / "operations.md"

REQUIRED = bool(os.environ.get("SNP_REQUIRE_PROMETHEUS") or os.environ.get("CI"))
PROMTOOL, AMTOOL = shutil.which("promtool"), shutil.which("amtool")
tools = pytest.mark.skipif((PROMTOOL is None or AMTOOL is None) and not REQUIRED,
                           reason="promtool and amtool are installed by `make test` (Debian's prometheus and "
                                  "prometheus-alertmanager)")

# Where each alert goes: the overdue P1 (and the other calls alerts) to the regulators on shift, what the platform
# needs done to the people on call, paged or in working hours.
RECEIVERS = {
    "SnpP1CallOverdue": "regulators-on-shift",
    "SnpCallsOverdue": "regulators-on-shift",
    "SnpCallsUntaken": "regulators-on-shift",
    "SnpAppointmentsNotDeclared": "oncall-pager",
    "SnpDeclarationsRefused": "oncall-tickets",
    "SnpWebhooksFailing": "oncall-tickets",
    "SnpTerritoryWithoutSlots": "oncall-tickets",
    "SnpNoPrimary": "oncall-pager",
    "SnpReplicaLagging": "oncall-tickets",
    "SnpReplicaUnreachable": "oncall-tickets",
    "SnpBackupTooOld": "oncall-pager",
    "SnpWalArchivingFailing": "oncall-pager",
    "SnpErrorRate": "oncall-pager",
    "SnpSlowRoute": "oncall-tickets",
    "SnpIdentityProviderUnreachable": "oncall-pager",
    "SnpHubBrokerUnreachable": "oncall-pager",
    "SnpCertificateExpiring": "oncall-tickets",
    "SnpFrontCertificateExpiring": "oncall-tickets",
}
# Named by a rule, not exported by the app: written by `snp db backup` (SNP_BACKUP_METRICS_FILE) for
# node_exporter's textfile collector.
NOT_THE_APPS = {"snp_backup_last_success_timestamp_seconds"}


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _tool(tool: str | None, name: str) -> str:
    assert tool, f"{name} is missing: `make test` installs it (Debian's prometheus / prometheus-alertmanager)"
    return tool


@tools
class TestRules:
    def test_promtool_checks_the_rules(self) -> None:
        result = run(_tool(PROMTOOL, "promtool"), "check", "rules", str(RULES))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"SUCCESS: {len(rules())} rules found" in result.stdout

    def test_promtool_checks_the_scrape_configuration_which_evaluates_every_30_seconds(self) -> None:
        result = run(_tool(PROMTOOL, "promtool"), "check", "config", str(PROMETHEUS))
        assert result.returncode == 0, result.stdout + result.stderr
        configuration = yaml.safe_load(PROMETHEUS.read_text())
        assert configuration["global"]["evaluation_interval"] == "30s"
        assert {job["job_name"] for job in configuration["scrape_configs"]} == {
            "snp", "patroni", "postgres", "node", "blackbox"}

    def test_each_rule_fires_on_its_series_and_stays_quiet_without(self) -> None:
        result = run(_tool(PROMTOOL, "promtool"), "test", "rules", str(RULE_TESTS))
        assert result.returncode == 0, result.stdout + result.stderr

    def test_each_rule_has_a_case_that_fires_and_one_that_must_not(self) -> None:
        fires: set[str] = set()
        quiet: set[str] = set()
        for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
            for expected in case["alert_rule_test"]:
                (fires if expected["exp_alerts"] else quiet).add(expected["alertname"])
        names = {rule["alert"] for rule in rules()}
        assert names - fires == set(), "rules without a case where they fire"
        assert names - quiet == set(), "rules without a case where they must not fire"

    def test_each_rule_names_its_source_and_its_section_of_the_runbook(self) -> None:
        headings = {line[4:].strip() for line in OPERATIONS.read_text().splitlines() if line.startswith("### ")}
        for rule in rules():
            annotations = rule["annotations"]
            assert annotations.get("source"), rule["alert"]
            assert annotations["runbook"] == f"docs/operations.md#{rule['alert'].lower()}", rule["alert"]
            assert rule["alert"] in headings, f"docs/operations.md has no section ### {rule['alert']}"
            assert rule["labels"]["audience"] in ("regulation", "oncall"), rule["alert"]
            assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]

    def test_an_overdue_p1_fires_at_the_first_evaluation_of_a_30_second_group(self) -> None:
        groups = yaml.safe_load(RULES.read_text())["groups"]
        (group,) = [g for g in groups if any(r.get("alert") == "SnpP1CallOverdue" for r in g["rules"])]
        (rule,) = [r for r in group["rules"] if r["alert"] == "SnpP1CallOverdue"]
        assert group["interval"] == "30s" and "for" not in rule


@tools
class TestRouting:
    def test_amtool_checks_the_configuration(self) -> None:
        result = run(_tool(AMTOOL, "amtool"), "check-config", str(ALERTMANAGER))
        assert result.returncode == 0, result.stdout + result.stderr

    def test_every_alert_has_its_receiver(self) -> None:
        assert set(RECEIVERS) == {rule["alert"] for rule in rules()}

    @pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
    def test_the_routing_tree_sends_each_alert_to_its_people(self, rule: dict[str, Any]) -> None:
        labels = {"alertname": rule["alert"], **rule["labels"], "territory": "36"}
        result = run(_tool(AMTOOL, "amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER}",
                     f"--verify.receivers={RECEIVERS[rule['alert']]}", *(f"{k}={v}" for k, v in labels.items()))
        assert result.returncode == 0, result.stdout + result.stderr

    def test_the_overdue_p1_goes_to_the_regulators_and_the_lost_primary_to_the_people_on_call(self) -> None:
        amtool = _tool(AMTOOL, "amtool")
        p1 = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}",
                 "alertname=SnpP1CallOverdue", "audience=regulation", "severity=page", "territory=36")
        assert p1.stdout.split() == ["regulators-on-shift"], p1.stdout + p1.stderr
        primary = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}",
                      "alertname=SnpNoPrimary", "audience=oncall", "severity=page")
        assert primary.stdout.split() == ["oncall-pager"], primary.stdout + primary.stderr


def _scrape(base: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(httpx.get(f"{base}/metrics").text)}


def _sample(family: Any, **labels: str) -> float:
    (value,) = [s.value for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]
    return float(value)


class TestExported:
    def test_every_app_metric_a_rule_names_is_exported_by_metrics(self, configured: Configured) -> None:
        named = {name for rule in rules() for name in re.findall(r"\bsnp_[a-z0-9_]+", rule["expr"])}
        families = _scrape(configured.base)
        exported = set(families) | {s.name for f in families.values() for s in f.samples}
        missing = {name for name in named - NOT_THE_APPS
                   if name not in exported and re.sub(r"_(bucket|count|sum|total)$", "", name) not in exported}
        assert missing == set()
        assert named >= NOT_THE_APPS

    def test_the_dependencies_are_probed_and_the_certificate_read_from_its_file(
        self, configured: Configured
    ) -> None:
        base, expires = configured.base, configured.certificate_expires
        families = _scrape(base)
        assert _sample(families["snp_dependency_up"], dependency="identity_provider") == 1
        assert _sample(families["snp_dependency_up"], dependency="hub_broker") == 0
        assert _sample(families["snp_certificate_not_after_timestamp_seconds"],
                       certificate="ptf_sas_client") == expires.timestamp()
