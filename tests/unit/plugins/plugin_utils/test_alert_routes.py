"""alert_routes: routing built from a policy, checked by Alertmanager's own amtool.

amtool comes from Debian's prometheus-alertmanager package (`make tools`
extracts it into .cache/tools/bin); AMTOOL overrides the path.
"""

from __future__ import annotations

import copy
import subprocess

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._alert_routes import alert_routes


# The seed's policy: critical by e-mail, Slack and PagerDuty (5 s wait, 1 h
# repeat), warning by e-mail and Slack (30 s wait, 6 h repeat), four teams.
SEED_POLICY = {
    "severities": [
        {"name": "critical", "channels": ["email", "slack", "pagerduty"], "group_wait": "5s", "repeat_interval": "1h"},
        {"name": "warning", "channels": ["email", "slack"], "group_wait": "30s", "repeat_interval": "6h"},
    ],
    "teams": [
        {"name": "database", "email_to": ["dba@example.org"], "slack_channel": "#db", "pagerduty_routing_key": "database"},
        {"name": "security", "email_to": ["sec@example.org"], "slack_channel": "#sec", "pagerduty_routing_key": "security"},
        {"name": "data-engineering", "email_to": ["de@example.org"], "slack_channel": "#de", "pagerduty_routing_key": "data"},
        {"name": "infrastructure", "email_to": ["ops@example.org"], "slack_channel": "#ops", "pagerduty_routing_key": "ops",
         "webhook_urls": ["http://hooks.example.org/ops"], "channels": {"warning": ["email", "slack", "webhook"]}},
    ],
    "default": {"channels": ["email"], "email_to": ["ops@example.org"], "slack_channel": "#ops", "pagerduty_routing_key": "ops"},
}
TEAMS = ["database", "security", "data-engineering", "infrastructure"]
INTEGRATIONS = {"email": "email_configs", "slack": "slack_configs", "pagerduty": "pagerduty_configs", "webhook": "webhook_configs"}


def policy(**changes):
    changed = copy.deepcopy(SEED_POLICY)
    changed.update(changes)
    return changed


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    """alertmanager.yml built from the seed policy, with the secret files it names."""
    directory = tmp_path_factory.mktemp("alertmanager")
    secrets = directory / "secrets"
    secrets.mkdir()
    for key in ("database", "security", "data", "ops"):
        (secrets / f"pagerduty-{key}").write_text("routing-key\n")
    (directory / "slack-api-url").write_text("https://hooks.slack.example/T000\n")
    config = {
        "global": {
            "smtp_smarthost": "localhost:25",
            "smtp_from": "alertmanager@example.org",
            "slack_api_url_file": str(directory / "slack-api-url"),
        },
        **alert_routes(SEED_POLICY, {"secrets_dir": str(secrets), "pagerduty_keys": ["database", "security", "data", "ops"]}),
    }
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def receiver_for(amtool, config_file, **labels):
    result = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={config_file}", *[f"{k}={v}" for k, v in labels.items()]],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_output_passes_amtool_check_config(amtool, config_file):
    result = subprocess.run([amtool, "check-config", str(config_file)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    # default, each team's and the default contacts' two tiers, and the Watchdog's.
    assert f" - {(len(TEAMS) + 1) * 2 + 2} receivers" in result.stdout


@pytest.mark.parametrize("team", TEAMS)
@pytest.mark.parametrize("severity", ["critical", "warning"])
def test_every_team_and_severity_routes_to_exactly_one_receiver(amtool, config_file, team, severity):
    # amtool prints every receiver the alert reaches; one name means one receiver.
    assert receiver_for(amtool, config_file, team=team, severity=severity, alertname="X") == f"{team}-{severity}"


@pytest.mark.parametrize("team", [None, "marketing", ""])
@pytest.mark.parametrize("severity", ["critical", "warning"])
def test_an_alert_of_no_known_team_still_gets_its_severitys_channels(amtool, config_file, team, severity):
    labels = {"severity": severity, "alertname": "X"} | ({} if team is None else {"team": team})
    assert receiver_for(amtool, config_file, **labels) == f"default-{severity}"


def test_the_default_contacts_get_each_tiers_channels_and_timings():
    result = alert_routes(SEED_POLICY)
    receivers = {r["name"]: r for r in result["receivers"]}
    assert sorted(key for key in receivers["default-critical"] if key != "name") == ["email_configs", "pagerduty_configs", "slack_configs"]
    assert receivers["default-critical"]["pagerduty_configs"][0]["routing_key_file"].endswith("/pagerduty-ops")
    assert sorted(key for key in receivers["default-warning"] if key != "name") == ["email_configs", "slack_configs"]
    # After every team's routes: a team's alert never reaches them.
    routes = result["route"]["routes"]
    assert [r["receiver"] for r in routes[-2:]] == ["default-critical", "default-warning"]
    assert routes[-2] == {"receiver": "default-critical", "matchers": ['severity="critical"'], "group_wait": "5s", "repeat_interval": "1h"}


@pytest.mark.parametrize("labels", [{"team": "database", "severity": "info"}, {"alertname": "Other"}])
def test_alerts_of_no_known_severity_reach_the_default_receiver(amtool, config_file, labels):
    assert receiver_for(amtool, config_file, **labels) == "default"


@pytest.mark.parametrize("labels", [{}, {"team": "database", "severity": "critical"}, {"severity": "none", "team": "infrastructure"}])
def test_the_watchdog_reaches_only_its_own_receiver_whatever_its_labels(amtool, config_file, labels):
    assert receiver_for(amtool, config_file, alertname="Watchdog", **labels) == "watchdog"


def test_the_watchdog_goes_to_the_dead_mans_switch_every_minute_or_nowhere():
    switched = alert_routes(SEED_POLICY, {"watchdog_webhook_urls": ["https://hc-ping.example/abc"]})
    first = switched["route"]["routes"][0]
    assert first == {"receiver": "watchdog", "matchers": ['alertname="Watchdog"'], "group_wait": "0s",
                     "group_interval": "1m", "repeat_interval": "1m"}
    receivers = {r["name"]: r for r in switched["receivers"]}
    assert receivers["watchdog"] == {"name": "watchdog", "webhook_configs": [{"url": "https://hc-ping.example/abc", "send_resolved": False}]}
    # Without a switch: a receiver with no integration, so the Watchdog reaches no person.
    receivers = {r["name"]: r for r in alert_routes(SEED_POLICY)["receivers"]}
    assert receivers["watchdog"] == {"name": "watchdog"}
    with pytest.raises(AnsibleFilterError, match="watchdog_webhook_urls must be a list of URLs"):
        alert_routes(SEED_POLICY, {"watchdog_webhook_urls": "https://hc-ping.example/abc"})


@pytest.mark.parametrize("team", TEAMS)
def test_receivers_hold_exactly_the_integrations_the_policy_names(team):
    receivers = {r["name"]: r for r in alert_routes(SEED_POLICY)["receivers"]}
    expected = {
        "critical": ["email", "slack", "pagerduty"],
        "warning": ["email", "slack", "webhook"] if team == "infrastructure" else ["email", "slack"],
    }
    for severity, channels in expected.items():
        receiver = receivers[f"{team}-{severity}"]
        assert sorted(key for key in receiver if key != "name") == sorted(INTEGRATIONS[c] for c in channels)
        assert all(len(receiver[INTEGRATIONS[c]]) == 1 for c in channels)


def test_contacts_and_timings_reach_the_output():
    result = alert_routes(SEED_POLICY, {"secrets_dir": "/etc/alertmanager/secrets/"})
    receivers = {r["name"]: r for r in result["receivers"]}
    critical = receivers["database-critical"]
    assert critical["email_configs"][0]["to"] == "dba@example.org"
    assert critical["slack_configs"][0]["channel"] == "#db"
    assert critical["pagerduty_configs"][0]["routing_key_file"] == "/etc/alertmanager/secrets/pagerduty-database"
    assert critical["pagerduty_configs"][0]["severity"] == "critical"
    assert receivers["infrastructure-warning"]["webhook_configs"] == [{"url": "http://hooks.example.org/ops", "send_resolved": True}]
    routes = {r["receiver"]: r for r in result["route"]["routes"]}
    assert routes["database-critical"] == {
        "receiver": "database-critical",
        "matchers": ['team="database"', 'severity="critical"'],
        "group_wait": "5s",
        "repeat_interval": "1h",
    }
    assert routes["security-warning"]["group_wait"] == "30s" and routes["security-warning"]["repeat_interval"] == "6h"
    assert result["route"]["receiver"] == "default"


def test_no_secret_value_enters_the_config():
    rendered = yaml.safe_dump(alert_routes(SEED_POLICY))
    assert "routing_key:" not in rendered and "api_url:" not in rendered


def test_a_tier_inhibits_the_later_tiers_for_the_same_alertname_and_instance():
    three = policy(severities=SEED_POLICY["severities"] + [{"name": "info", "channels": ["email"]}])
    assert alert_routes(three)["inhibit_rules"] == [
        {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'], "equal": ["alertname", "instance"]},
        {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="info"'], "equal": ["alertname", "instance"]},
        {"source_matchers": ['severity="warning"'], "target_matchers": ['severity="info"'], "equal": ["alertname", "instance"]},
    ]


def test_custom_matchers_select_teams_by_other_labels(amtool, tmp_path):
    custom = policy(
        teams=[{"name": "payments", "matchers": ['service=~"billing|payments"'], "email_to": ["pay@example.org"],
                "slack_channel": "#pay", "pagerduty_routing_key": "pay"}],
    )
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump({"global": {"smtp_smarthost": "localhost:25", "smtp_from": "a@example.org",
                                               "slack_api_url": "http://slack.invalid/"}, **alert_routes(custom)}))
    assert receiver_for(amtool, path, service="billing", severity="critical") == "payments-critical"
    assert receiver_for(amtool, path, team="payments", severity="critical") == "default-critical"


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (policy(severities=[{"name": "critical", "channels": ["email", "sms"]}]), "unknown channel 'sms'"),
        (policy(teams=[{"name": "database", "email_to": ["a@example.org"]}]), "team 'database' is notified by slack but has no slack_channel"),
        (policy(teams=[{"name": "ops", "email_to": [], "slack_channel": "#x", "pagerduty_routing_key": "k"}]), "no email_to"),
        (policy(teams=SEED_POLICY["teams"] + [SEED_POLICY["teams"][0]]), "the name 'database' is used twice"),
        (policy(severities=SEED_POLICY["severities"] + [SEED_POLICY["severities"][1]]), "the name 'warning' is used twice"),
        (policy(severities=[{"name": "critical", "channels": ["email"], "group_wait": "5 seconds"}]), "group_wait is not a duration"),
        (policy(severities=[{"name": "critical", "channels": ["email"], "repeat_interval": "1hour"}]), "repeat_interval is not a duration"),
        (policy(teams=[{"name": "default", "email_to": ["a@example.org"]}]), "'default' is the name of a receiver the filter makes"),
        (policy(teams=[{"name": "watchdog", "email_to": ["a@example.org"]}]), "'watchdog' is the name of a receiver the filter makes"),
        (policy(teams=[{"name": "db", "matchers": ["team=database"], "email_to": ["a@x"], "slack_channel": "#x",
                        "pagerduty_routing_key": "k"}]), "invalid matcher 'team=database'"),
        (policy(teams=[{"name": "db", "email_to": ["a@x"], "slack_channel": "#x", "pagerduty_routing_key": "k",
                        "channels": {"urgent": ["email"]}}]), "unknown severity 'urgent'"),
        (policy(teams=[{"name": "db", "e_mail": ["a@x"]}]), "unknown keys ['e_mail']"),
        (policy(default={"channels": ["slack"]}), "the default receiver is notified by slack but has no slack_channel"),
        (policy(default={"channels": ["email"], "email_to": ["ops@example.org"], "slack_channel": "#ops"}),
         "the default receiver (for critical alerts of no known team) is notified by pagerduty but has no pagerduty_routing_key"),
        ({"severities": [], "teams": [], "default": {}}, "'severities' must be a non-empty list"),
        ({"teams": [], "default": {}}, "the policy has no 'severities'"),
    ],
)
def test_bad_policies_fail_naming_the_problem(broken, message):
    with pytest.raises(AnsibleFilterError, match="alert_routes: ") as error:
        alert_routes(broken)
    assert message in str(error.value)


def test_an_unknown_pagerduty_key_reference_fails():
    with pytest.raises(AnsibleFilterError, match="routing key 'data', which is not among"):
        alert_routes(SEED_POLICY, {"pagerduty_keys": ["database", "security", "ops"]})
