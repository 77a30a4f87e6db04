"""placeholder_contacts: which alert contacts of the fleet are still placeholders."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._contacts import placeholder_contacts

EXAMPLE_CHANNELS = ["#alerts", "#alerts-database"]


def fleet(policy=None, **variables):
    """hostvars and groups of two Alertmanager hosts with the same settings, and a database host."""
    settings = {"alertmanager_routing_policy": policy or {"teams": [], "default": {}}, **variables}
    hostvars = {"am1": settings, "am2": settings, "db1": {"alertmanager_smtp_from": "CHANGE-ME"}}
    return hostvars, {"alertmanager": ["am1", "am2"], "postgres": ["db1"]}


def team(name, email, channel):
    return {"name": name, "email_to": [email], "slack_channel": channel}


@pytest.mark.parametrize(("address", "reason"), [
    ("CHANGE-ME", "still CHANGE-ME"),
    ("dba-change-me@corp.io", "still CHANGE-ME"),
    ("dba@example.org", "example.org is reserved for examples"),
    ("dba@EXAMPLE.COM", "EXAMPLE.COM is reserved for examples"),
    ("dba@mail.example.net", "mail.example.net is reserved for examples"),
    ("dba@dataaggregator.example", "dataaggregator.example is reserved for examples"),
    ("dba@corp.invalid", "corp.invalid is reserved for examples"),
    ("dba", "not an e-mail address"),
])
def test_a_placeholder_address_is_named_with_its_reason_and_hosts(address, reason):
    hostvars, groups = fleet({"teams": [team("database", address, "#db-oncall")], "default": {}})
    assert placeholder_contacts(hostvars, groups, EXAMPLE_CHANNELS) == [{
        "setting": "alertmanager_routing_policy, team 'database', email_to", "value": address, "reason": reason,
        "group": "alertmanager", "hosts": ["am1", "am2"],
    }]


@pytest.mark.parametrize("address", ["dba@dataaggregator.io", "ops@example.org.corp.io", "oncall@notexample.com"])
def test_a_real_address_passes(address):
    hostvars, groups = fleet({"teams": [team("database", address, "#db-oncall")], "default": {}})
    assert placeholder_contacts(hostvars, groups, EXAMPLE_CHANNELS) == []


def test_the_roles_example_channels_and_change_me_channels_are_placeholders():
    hostvars, groups = fleet({"teams": [team("database", "a@corp.io", "#alerts-database"), team("web", "b@corp.io", "#CHANGE-ME")],
                              "default": {"email_to": ["c@corp.io"], "slack_channel": "#alerts"}})
    found = {(finding["setting"], finding["reason"]) for finding in placeholder_contacts(hostvars, groups, EXAMPLE_CHANNELS)}
    assert found == {
        ("alertmanager_routing_policy, team 'database', slack_channel", "the role's example channel"),
        ("alertmanager_routing_policy, team 'web', slack_channel", "still CHANGE-ME"),
        ("alertmanager_routing_policy, the default receiver, slack_channel", "the role's example channel"),
    }


def test_the_mail_relay_its_sender_and_login_are_checked_on_alertmanager_hosts_only():
    hostvars, groups = fleet(alertmanager_smtp_smarthost="smtp.example.com:587", alertmanager_smtp_from="am@corp.io",
                             alertmanager_smtp_auth_username="CHANGE-ME")
    found = {finding["setting"]: finding["reason"] for finding in placeholder_contacts(hostvars, groups)}
    # db1's CHANGE-ME sender is not an Alertmanager's: not checked.
    assert found == {"alertmanager_smtp_smarthost": "smtp.example.com is reserved for examples",
                     "alertmanager_smtp_auth_username": "still CHANGE-ME"}
    # A login that is not an address is fine.
    hostvars, groups = fleet(alertmanager_smtp_auth_username="alertmanager")
    assert placeholder_contacts(hostvars, groups) == []


def test_the_sandbox_may_keep_its_examples():
    hostvars, groups = fleet({"teams": [team("database", "dba@example.org", "#alerts-database")], "default": {}},
                             site_placeholder_contacts_allowed=True)
    assert placeholder_contacts(hostvars, groups, EXAMPLE_CHANNELS) == []


def test_placeholder_channels_must_be_a_list():
    hostvars, groups = fleet()
    with pytest.raises(AnsibleFilterError, match="placeholder_channels must be a list"):
        placeholder_contacts(hostvars, groups, "#alerts")


def test_a_relay_on_the_host_itself_and_declared_real_channels_pass():
    hostvars, groups = fleet({"teams": [team("database", "a@corp.io", "#alerts-database")], "default": {}},
                             alertmanager_smtp_smarthost="localhost:25", site_real_slack_channels=["#alerts-database"])
    assert placeholder_contacts(hostvars, groups, EXAMPLE_CHANNELS) == []
