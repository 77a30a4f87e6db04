# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of the fleet's alert contacts are still placeholders.

The site playbook checks this on the controller before it touches any host,
beside the missing secrets: an address at a domain reserved for examples, a
value that still says CHANGE-ME, or one of the Slack channels the role ships
as examples. Alertmanager would accept them all and deliver nothing.

Checked on every host of the alertmanager group: each team's and the
default's e-mail addresses and Slack channel in alertmanager_routing_policy,
the sender and login of the mail relay, and the relay's host name. A host
whose site_placeholder_contacts_allowed is true (the sandbox) is left out,
and a host's site_real_slack_channels are real even when named like an example.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# What inventories/vault.yml.example and the shipped inventories leave to fill in.
PLACEHOLDER = "CHANGE-ME"
# Domains reserved for documentation (RFC 2606, RFC 6761): no mail reaches them.
RESERVED_DOMAIN = re.compile(r"(^|\.)(example\.(org|com|net)|example|invalid|test|localhost)$", re.IGNORECASE)
GROUP = "alertmanager"


def _reason(value: str, placeholder_channels: set, kind: str) -> str:
    """Why value is a placeholder, or "" when it looks real."""
    if PLACEHOLDER.lower() in value.lower():
        return f"still {PLACEHOLDER}"
    if kind == "login" and "@" in value:
        kind = "email"
    if kind == "email":
        domain = value.rpartition("@")[2].strip().rstrip(">").rstrip(".")
        if "@" not in value or not domain:
            return "not an e-mail address"
        if RESERVED_DOMAIN.search(domain):
            return f"{domain} is reserved for examples"
    if kind == "host":
        name = (value.rpartition(":")[0] if ":" in value else value).strip().rstrip(".")
        # A relay on the host itself (localhost:25) is a real one.
        if name.lower() != "localhost" and RESERVED_DOMAIN.search(name):
            return f"{name} is reserved for examples"
    if kind == "slack" and value in placeholder_channels:
        return "the role's example channel"
    return ""


def _contacts(policy) -> list:
    """(setting, kind, value) of every contact in a routing policy."""
    found = []
    if not isinstance(policy, Mapping):
        return found
    entries = [(f"team {team.get('name')!r}", team) for team in policy.get("teams") or [] if isinstance(team, Mapping)]
    if isinstance(policy.get("default"), Mapping):
        entries.append(("the default receiver", policy["default"]))
    for where, entry in entries:
        for address in entry.get("email_to") or []:
            found.append((f"alertmanager_routing_policy, {where}, email_to", "email", str(address)))
        if entry.get("slack_channel"):
            found.append((f"alertmanager_routing_policy, {where}, slack_channel", "slack", str(entry["slack_channel"])))
    return found


def placeholder_contacts(hostvars: Mapping, groups: Mapping, placeholder_channels=None) -> list:
    """Every placeholder contact of the alertmanager hosts: {setting, value, reason, group, hosts}, in order."""
    if placeholder_channels is not None and not isinstance(placeholder_channels, list):
        raise AnsibleFilterError("placeholder_contacts: placeholder_channels must be a list of channel names")
    channels = set(placeholder_channels or [])
    findings: dict = {}
    for host in groups.get(GROUP, []):
        variables = hostvars.get(host, {})
        if variables.get("site_placeholder_contacts_allowed"):
            continue
        contacts = _contacts(variables.get("alertmanager_routing_policy"))
        real_channels = set(variables.get("site_real_slack_channels") or [])
        for setting, kind in (("alertmanager_smtp_smarthost", "host"), ("alertmanager_smtp_from", "email"),
                              ("alertmanager_smtp_auth_username", "login")):
            if variables.get(setting):
                contacts.append((setting, kind, str(variables[setting])))
        for setting, kind, value in contacts:
            reason = _reason(value, channels - real_channels, kind)
            if reason:
                finding = findings.setdefault((setting, value), {"setting": setting, "value": value, "reason": reason,
                                                                 "group": GROUP, "hosts": []})
                finding["hosts"].append(host)
    return list(findings.values())
