"""site.yml's preflight and the shipped inventories, run by ansible-playbook on the controller.

The preflight play runs on localhost only, so these runs touch no host of the
inventories (their names do not even resolve here).
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from conftest import ROOT, ansible, rendered_per_host

REQUIRED = yaml.safe_load((ROOT / "playbooks/vars/required_secrets.yml").read_text())["site_shipped_required_secrets"]
EXAMPLE = yaml.safe_load((ROOT / "inventories/vault.yml.example").read_text())
# An inventory's contacts once filled in (group_vars/all/contacts.yml ships placeholders).
TEAMS = ["database", "security", "data-engineering", "infrastructure"]
REAL_CONTACTS = {
    "platform_contacts": {
        "teams": [{"name": team, "email_to": [f"{team}@dataaggregator.io"], "slack_channel": f"#oncall-{team}",
                   "pagerduty_routing_key": team} for team in TEAMS],
        "default": {"channels": ["email", "slack"], "email_to": ["oncall@dataaggregator.io"], "slack_channel": "#oncall",
                    "pagerduty_routing_key": "infrastructure"},
    },
    "alertmanager_smtp_smarthost": "smtp.dataaggregator.io:587",
    "alertmanager_smtp_from": "alertmanager@dataaggregator.io",
    "alertmanager_smtp_auth_username": "alertmanager@dataaggregator.io",
}
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def recap(output: str) -> dict:
    return {host: {"ok": int(ok), "failed": int(failed)} for host, ok, _changed, _unreachable, failed in RECAP.findall(output)}


def flat(output: str) -> str:
    return " ".join(output.split())


@pytest.mark.parametrize("inventory", ["production", "staging"])
def test_without_a_vault_every_missing_secret_is_named_before_any_host_is_touched(inventory):
    result = ansible("ansible-playbook", "site.yml", "-i", f"inventories/{inventory}")
    assert result.returncode != 0
    output = flat(result.stdout + result.stderr)
    assert f"{len(REQUIRED)} secrets are missing from the vault" in output, output
    for secret in REQUIRED:
        assert f"{secret['name']}: {secret['purpose']}" in output, secret["name"]
    assert list(recap(result.stdout)) == ["localhost"]


def test_the_example_vault_not_filled_in_is_refused():
    result = ansible("ansible-playbook", "site.yml", "-i", "inventories/production", "-e", "@inventories/vault.yml.example")
    assert result.returncode != 0
    assert f"{len(REQUIRED)} secrets are missing from the vault" in flat(result.stdout + result.stderr)


def filled(tmp_path, vault_values=None, contacts=True) -> list:
    """The extra-vars arguments of a filled vault (every secret, unless vault_values says), and real contacts."""
    vault = tmp_path / "vault.yml"
    values = vault_values if vault_values is not None else {name: f"filled-{index}" for index, name in enumerate(EXAMPLE)}
    vault.write_text(yaml.safe_dump(values))
    arguments = ["-e", f"@{vault}"]
    if contacts:
        (tmp_path / "contacts.yml").write_text(yaml.safe_dump(REAL_CONTACTS))
        arguments += ["-e", f"@{tmp_path / 'contacts.yml'}"]
    return arguments


def test_a_filled_vault_and_real_contacts_pass_the_preflight(tmp_path):
    # The play site.yml starts with, alone: the next ones would reach for the hosts.
    result = ansible("ansible-playbook", "playbooks/preflight.yml", "-i", "inventories/production", *filled(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result.stdout) == {"localhost": {"ok": 3, "failed": 0}}


@pytest.mark.parametrize("inventory", ["production", "staging"])
def test_the_shipped_placeholder_contacts_are_all_named_before_any_host_is_touched(tmp_path, inventory):
    result = ansible("ansible-playbook", "site.yml", "-i", f"inventories/{inventory}", *filled(tmp_path, contacts=False))
    assert result.returncode != 0
    output = flat(result.stdout + result.stderr)
    # Each team's and the default's address and channel, and the mail relay's host, sender and login.
    assert "13 alert contacts are placeholders, for the alertmanager hosts" in output, output
    for team in TEAMS:
        for setting in ("email_to = CHANGE-ME", "slack_channel = #CHANGE-ME"):
            assert f"team '{team}', {setting} (still CHANGE-ME)" in output.replace("''", "'"), (team, setting)
    assert "alertmanager_smtp_smarthost = CHANGE-ME:587 (still CHANGE-ME)" in output
    assert list(recap(result.stdout)) == ["localhost"]


def test_a_real_channel_named_like_an_example_and_a_local_relay_can_be_declared(tmp_path):
    contacts = {"platform_contacts": {**REAL_CONTACTS["platform_contacts"], "default": {
        **REAL_CONTACTS["platform_contacts"]["default"], "slack_channel": "#alerts"}},
        "site_real_slack_channels": ["#alerts"], "alertmanager_smtp_smarthost": "localhost:25"}
    (tmp_path / "ours.yml").write_text(yaml.safe_dump(contacts))
    result = ansible("ansible-playbook", "playbooks/preflight.yml", "-i", "inventories/production", *filled(tmp_path),
                     "-e", f"@{tmp_path / 'ours.yml'}")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("contacts", "reason"), [
    ({"alertmanager_smtp_from": "alerts@example.com"}, "alertmanager_smtp_from = alerts@example.com (example.com is reserved for examples)"),
    ({"alertmanager_smtp_smarthost": "relay.corp.example:25"}, "(relay.corp.example is reserved for examples)"),
    ({"platform_contacts": {**REAL_CONTACTS["platform_contacts"], "default": {
        **REAL_CONTACTS["platform_contacts"]["default"], "slack_channel": "#alerts-database"}}},
     "the default receiver, slack_channel = #alerts-database (the role's example channel)"),
])
def test_an_example_address_or_channel_is_refused(tmp_path, contacts, reason):
    (tmp_path / "worse.yml").write_text(yaml.safe_dump(contacts))
    result = ansible("ansible-playbook", "playbooks/preflight.yml", "-i", "inventories/production", *filled(tmp_path),
                     "-e", f"@{tmp_path / 'worse.yml'}")
    assert result.returncode != 0
    output = flat(result.stdout + result.stderr).replace("''", "'")
    assert "1 alert contacts are placeholders" in output and reason in output, output


def test_a_secret_not_needed_by_the_inventory_is_not_asked_for(tmp_path):
    needed = {name: "filled" for name in EXAMPLE if not name.startswith("vault_aws_")}
    result = ansible("ansible-playbook", "playbooks/preflight.yml", "-i", "inventories/staging",
                     *filled(tmp_path, {**needed, "backup_s3_bucket": ""}))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_inventories_the_example_and_the_preflight_name_the_same_secrets():
    referenced = set()
    for path in list((ROOT / "inventories").rglob("*.yml")):
        # Not the example, nor a sandbox's generated (encrypted) vault.
        if path.name not in ("vault.yml.example", "vault.yml"):
            referenced |= set(re.findall(r"\bvault_[a-z0-9_]+", path.read_text()))
    assert referenced == {secret["name"] for secret in REQUIRED} == set(EXAMPLE)


def sandbox_vault() -> list:
    """The password file of a running sandbox's generated vault (make demo), if there is one."""
    password = ROOT / ".cache/sandbox/vault-password"
    return ["--vault-password-file", str(password)] if password.exists() else []


def host_vars(inventory: str, host: str) -> dict:
    result = ansible("ansible-inventory", "-i", f"inventories/{inventory}", "--host", host, *sandbox_vault())
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_staging_differs_from_production_where_the_seed_says():
    production = host_vars("production", "db1.dataaggregator.example")
    staging = host_vars("staging", "db1.staging.dataaggregator.example")
    assert (production["backup_retention_days"], staging["backup_retention_days"]) == (30, 7)
    assert (production["loki_retention_period"], staging["loki_retention_period"]) == ("720h", "168h")
    assert (production["prometheus_retention_time"], staging["prometheus_retention_time"]) == ("30d", "7d")
    for variable in ("grafana_log_level", "loki_log_level", "promtail_log_level"):
        assert (production[variable], staging[variable]) == ("info", "debug"), variable
    assert (production["platform_environment"], staging["platform_environment"]) == ("production", "staging")
    assert production["prometheus_systemd_options"]["MemoryMax"] != staging["prometheus_systemd_options"]["MemoryMax"]
    assert "staging" in staging["grafana_root_url"] and "staging" not in production["grafana_root_url"]
    # The rest is shared, from one file.
    shared = yaml.safe_load((ROOT / "inventories/shared/all.yml").read_text())
    for variable, value in shared.items():
        assert production[variable] == staging[variable] == value, variable


def test_both_inventories_have_the_same_groups():
    def groups(inventory):
        result = ansible("ansible-inventory", "-i", f"inventories/{inventory}", "--list")
        assert result.returncode == 0, result.stderr
        return {name for name in json.loads(result.stdout) if name != "_meta"}

    assert groups("production") == groups("staging")
    assert {"prometheus", "alertmanager", "grafana", "loki", "promtail", "backend", "frontend", "postgres", "redis"} <= groups("production")


def rendered(tmp_path, expression: str, *inventories: str):
    """What an expression over hostvars and groups gives for these inventories, rendered by Ansible."""
    output = tmp_path / "rendered.json"
    playbook = tmp_path / "render.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "tasks": [{"ansible.builtin.copy": {"content": "{{ " + expression + " | to_json }}", "dest": str(output), "mode": "0600"}}],
    }]))
    arguments = [argument for inventory in inventories for argument in ("-i", inventory)]
    # A filled vault: the scrape configs and datasources carry the basic-auth passwords.
    vault = tmp_path / "unit-vault.yml"
    vault.write_text(yaml.safe_dump({name: f"unit-{name}" for name in EXAMPLE}))
    result = ansible("ansible-playbook", *arguments, str(playbook), "-e", f"@{vault}")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(output.read_text())


def scrape_targets(tmp_path, *inventories: str) -> dict:
    """{job: [target host, ...]} that Prometheus would scrape for these inventories, rendered by Ansible."""
    jobs = {}
    for config in rendered(tmp_path, "hostvars | dataaggregator.infrastructure.prometheus_scrape_configs(groups)", *inventories):
        for static in config.get("static_configs", []):
            jobs.setdefault(config["job_name"], []).extend(target.split(":")[0] for target in static["targets"])
    return jobs


@pytest.mark.parametrize("inventory", ["production", "staging"])
def test_every_promtail_and_grafana_reach_loki_on_a_private_address(tmp_path, inventory):
    """Promtail runs on every host, so Loki cannot stay on its default loopback address."""
    clients = rendered(tmp_path, "hostvars | dataaggregator.infrastructure.promtail_clients(groups)", f"inventories/{inventory}")
    assert len(clients) == 1
    host = clients[0]["url"].split("//", 1)[1].split(":", 1)[0]
    assert re.match(r"^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.)", host), clients
    datasources = rendered(tmp_path, "hostvars | dataaggregator.infrastructure.grafana_datasources(groups)", f"inventories/{inventory}")
    loki = [source for source in datasources["datasources"] if source["type"] == "loki"]
    assert [source["url"] for source in loki] == [f"http://{host}:3100"]


def test_a_host_added_to_postgres_is_scraped_and_backed_up(tmp_path):
    before = scrape_targets(tmp_path, "inventories/production")
    assert before["postgres"] == ["db1.dataaggregator.example"]
    extra = tmp_path / "more.yml"
    extra.write_text(yaml.safe_dump({"postgres": {"hosts": {"db2.dataaggregator.example": {"private_address": "10.20.0.32"}}}}))
    after = scrape_targets(tmp_path, "inventories/production", str(extra))
    assert sorted(after["postgres"]) == ["db1.dataaggregator.example", "db2.dataaggregator.example"]
    assert "db2.dataaggregator.example" in after["node"]
    # The backup play runs on the postgres group.
    listed = ansible("ansible-playbook", "-i", "inventories/production", "-i", str(extra), "playbooks/site.yml", "--list-hosts")
    assert listed.returncode == 0, listed.stderr
    backup_play = flat(listed.stdout).split("Schedule PostgreSQL backups", 1)[1]
    assert "hosts (2):" in backup_play
    assert set(backup_play.split("hosts (2):", 1)[1].split()[:2]) == {"db1.dataaggregator.example", "db2.dataaggregator.example"}


def test_the_sandbox_has_the_production_layout_and_the_shared_settings():
    result = ansible("ansible-inventory", "-i", "inventories/sandbox", "--list", *sandbox_vault())
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    production = ansible("ansible-inventory", "-i", "inventories/production", "--list")
    # Empty groups are not listed: those of the programs that join only with their real artifacts.
    real_only = {"grafana", "loki", "promtail", "docker"}
    assert set(json.loads(production.stdout)) - {"_meta"} - real_only <= set(listed) - {"_meta"}
    monitor = host_vars("sandbox", "da-sandbox-monitor")
    shared = yaml.safe_load((ROOT / "inventories/shared/all.yml").read_text())
    # The sandbox's own settings override the shared ones only where it says so.
    overridden = set(yaml.safe_load((ROOT / "inventories/sandbox/group_vars/sandbox.yml").read_text()))
    for variable, value in shared.items():
        if variable not in overridden:
            assert monitor[variable] == value, variable
    assert monitor["platform_environment"] == "sandbox" and monitor["backup_retention_days"] == 7
    assert monitor["backup_s3_bucket"] == ""


# The roles' own lists of what listens (what their preflights check), for each host they run on.
LISTENERS = {"prometheus": ("prometheus", "__prometheus_listeners"), "alertmanager": ("alertmanager", "__alertmanager_listeners"),
             "exporters": ("all", "__exporters_listeners"), "promtail": ("promtail", "__promtail_listeners"),
             "alloy": ("promtail", "__alloy_listeners")}


def listeners_by_host(tmp_path, inventory: str) -> dict:
    """{host: [listener, ...]} as the roles' preflights see them."""
    selected = " + ".join(f"({variable} if '{group}' == 'all' or '{group}' in group_names else [])"
                          for group, variable in LISTENERS.values())
    return rendered_per_host(tmp_path, inventory, LISTENERS, selected)


@pytest.mark.parametrize(("inventory", "other"), [("staging", "production"), ("production", "staging")])
def test_one_environment_name_labels_every_metric_alert_and_log_stream(tmp_path, inventory, other):
    """Prometheus's external labels (what its alerts carry) and scrape labels, Promtail's stream labels, Grafana's dashboards."""
    by_host = rendered_per_host(tmp_path, inventory, ["prometheus", "promtail", "grafana"], (
        "({'external': __prometheus_config.global.external_labels, 'scrape': __prometheus_config.scrape_configs}"
        " if 'prometheus' in group_names else {})"
        " | combine({'streams': __promtail_config.scrape_configs} if 'promtail' in group_names else {})"
        " | combine({'dashboards': grafana_environment} if 'grafana' in group_names else {})"))
    assert any("external" in value for value in by_host.values()) and any("streams" in value for value in by_host.values())
    assert [value["dashboards"] for value in by_host.values() if "dashboards" in value] == [inventory]
    for host, value in by_host.items():
        if "external" in value:
            assert value["external"]["environment"] == inventory, host
            assert f'"environment": "{inventory}"' in json.dumps(value["scrape"]), host
        if "streams" in value:
            assert f'"environment": "{inventory}"' in json.dumps(value["streams"]), host
        assert other not in json.dumps(value), host


@pytest.mark.parametrize("inventory", ["production", "staging"])
def test_no_service_of_the_inventory_listens_openly_without_authentication(tmp_path, inventory):
    from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._listen import (
        listen_scope,
        unauthenticated_listeners,
    )

    by_host = listeners_by_host(tmp_path, inventory)
    assert len(by_host) >= 4
    for host, listeners in by_host.items():
        assert unauthenticated_listeners(listeners) == [], host
        for listener in listeners:
            # Not merely allowed by a switch: authenticated, or on a private or loopback address.
            assert listener["allow_public"] in (False, "False"), (host, listener["name"])
            scope = listen_scope(listener["address"])
            assert listener["authenticated"] in (True, "True") or scope in ("private", "loopback"), (host, listener)
            if listener["name"].startswith("blackbox_exporter"):
                assert scope == "loopback", host
    names = {listener["name"].split()[0] for listeners in by_host.values() for listener in listeners}
    assert {"Prometheus", "Alertmanager", "node_exporter", "postgres_exporter", "redis_exporter", "blackbox_exporter",
            "cAdvisor", "Promtail", "Alloy"} <= names
    if inventory == "production":
        assert any("gossip" in listener["name"] for listeners in by_host.values() for listener in listeners)


def test_a_host_added_without_its_private_address_is_named_by_the_preflight(tmp_path):
    extra = tmp_path / "more.yml"
    extra.write_text(yaml.safe_dump({"postgres": {"hosts": {"db2.dataaggregator.example": None}}}))
    result = ansible("ansible-playbook", "playbooks/preflight.yml", "-i", "inventories/production", "-i", str(extra),
                     *filled(tmp_path))
    assert result.returncode != 0
    assert "Set private_address (the host's address on the fleet's private network) for db2.dataaggregator.example in" \
        in flat(result.stdout + result.stderr)


def test_the_full_stack_scenario_links_every_settings_file_of_the_sandbox():
    sandbox = ROOT / "inventories/sandbox/group_vars"
    scenario = ROOT / "molecule/platform/group_vars"
    # The vault is each one's own, generated by sandbox/secrets.sh.
    for path in sorted(p for p in sandbox.rglob("*.yml") if p.name != "vault.yml"):
        linked = scenario / path.relative_to(sandbox)
        assert linked.is_symlink() and linked.resolve() == path.resolve(), linked


def test_the_log_shipper_default_is_said_alike_where_it_is_read():
    """playbooks/logs.yml picks the shipper, Prometheus's scrape jobs follow it: the same default in both."""
    from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._scrape import DEFAULT_LOGS_SHIPPER
    text = (ROOT / "playbooks/logs.yml").read_text()
    defaults = set(re.findall(r"logs_shipper \| default\('(\w+)'\)", text))
    assert defaults == {DEFAULT_LOGS_SHIPPER}
    site = yaml.safe_load((ROOT / "playbooks/site.yml").read_text())
    assert {"ansible.builtin.import_playbook": "logs.yml", "name": "Log shipping"} in site
    shared = yaml.safe_load((ROOT / "inventories/shared/all.yml").read_text())
    assert shared["logs_shipper"] in ("alloy", "promtail")
