# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build Alertmanager routing from a compact policy.

A policy names severity tiers (most severe first), each with the channels it
notifies and its timings, and teams, each with the matchers that select its
alerts and its contacts. Every team x tier pair becomes one receiver that holds
exactly the integrations of the tier's channels, and one route that selects it.
An alert of a tier whose team is missing or unknown still gets its tier's
channels and timings (a critical one pages), through the default contacts: one
"default-<tier>" receiver and route per tier, after the teams' routes. Only an
alert of no known tier goes to the plain default receiver, through the
default's own channels. Each tier inhibits the tiers after it for the same
alertname and instance.

The Watchdog alert, which always fires, gets a route of its own before all
others: to a dead-man's-switch receiver (a webhook that an outside service
expects every minute, and pages when it stops), or to a receiver with no
integration when there is none, so it never reaches a person.

Secrets never enter the generated config: PagerDuty routing keys are named by
reference and read by Alertmanager from files (routing_key_file); the Slack
webhook URL and the SMTP password are global settings of the role.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._channels import CHANNELS, integrations

# The channels, their contacts and integrations: the registry (_channels.py).
CHANNEL_NAMES = tuple(CHANNELS)
CONTACTS = {name: entry["contact"] for name, entry in CHANNELS.items()}

POLICY_KEYS = {"severities", "teams", "default", "group_by", "inhibit_equal"}
TIER_KEYS = {"name", "channels", "matchers", "group_wait", "group_interval", "repeat_interval"}
TEAM_KEYS = {"name", "matchers", "channels"} | set(CONTACTS.values())
DEFAULT_KEYS = {"channels"} | set(CONTACTS.values())

# Alertmanager's <duration>; "0" alone is allowed too.
DURATION = re.compile(r"^(?:(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?|0)$")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MATCHER = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"$')
# The always-firing alert of the shipped rules, and the receiver it goes to.
WATCHDOG_ALERT = "Watchdog"
WATCHDOG = "watchdog"


def _fail(message: str) -> None:
    raise AnsibleFilterError(f"alert_routes: {message}")


def _check_keys(where: str, item: Mapping, allowed: set) -> None:
    if not isinstance(item, Mapping):
        _fail(f"{where} must be a mapping, not {type(item).__name__}")
    unknown = sorted(set(item) - allowed)
    if unknown:
        _fail(f"{where} has unknown keys {unknown}; allowed: {sorted(allowed)}")


def _check_name(where: str, name) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        _fail(f"{where} needs a name of lower-case letters, digits, '-' and '_' (got {name!r})")
    return name


def _check_duration(where: str, value) -> str:
    if not isinstance(value, str) or not value or not DURATION.match(value):
        _fail(f"{where} is not a duration such as 30s, 5m or 1h30m (got {value!r})")
    return value


def _check_channels(where: str, channels) -> list:
    if not isinstance(channels, list) or not channels:
        _fail(f"{where} needs a non-empty list of channels from {list(CHANNEL_NAMES)}")
    for channel in channels:
        if channel not in CHANNEL_NAMES:
            _fail(f"{where} names the unknown channel {channel!r}; known channels: {list(CHANNEL_NAMES)}")
    if len(set(channels)) != len(channels):
        _fail(f"{where} lists a channel twice: {channels}")
    return list(channels)


def _check_matchers(where: str, matchers) -> list:
    if not isinstance(matchers, list) or not matchers:
        _fail(f"{where} needs a non-empty list of matchers such as 'team=\"database\"'")
    for matcher in matchers:
        if not isinstance(matcher, str) or not MATCHER.match(matcher.strip()):
            _fail(f"{where} has the invalid matcher {matcher!r}; write label=\"value\" (or !=, =~, !~)")
    return [matcher.strip() for matcher in matchers]


def _unique(where: str, names: list) -> None:
    seen = set()
    for name in names:
        if name in seen:
            _fail(f"{where}: the name {name!r} is used twice")
        seen.add(name)


def _check_contacts(where: str, contacts: Mapping, channels: list, pagerduty_keys) -> None:
    """Every channel needs its contact, and the contact must be usable."""
    for channel in channels:
        setting = CONTACTS[channel]
        value = contacts.get(setting)
        if CHANNELS[channel]["contact_is_list"]:
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                _fail(f"{where} is notified by {channel} but has no {setting} (a non-empty list)")
        elif not isinstance(value, str) or not value:
            _fail(f"{where} is notified by {channel} but has no {setting}")
    key = contacts.get("pagerduty_routing_key")
    if "pagerduty" in channels and pagerduty_keys is not None and key not in pagerduty_keys:
        _fail(
            f"{where} refers to the PagerDuty routing key {key!r}, which is not among the "
            f"routing keys provided: {sorted(pagerduty_keys)}"
        )


def alert_routes(policy: Mapping, options: Mapping | None = None) -> dict:
    """Return {"route", "receivers", "inhibit_rules"} for alertmanager.yml.

    options (all optional):
      secrets_dir      directory of the PagerDuty routing key files on the host
                       (default /etc/alertmanager/secrets); key "ref" is read from
                       <secrets_dir>/pagerduty-ref
      pagerduty_keys   the routing key references that exist; a team that names
                       another one is an error (None: not checked)
      watchdog_webhook_urls  the dead-man's switch: the Watchdog alert goes there
                       every minute (empty: nowhere)
    """
    options = dict(options or {})
    secrets_dir = str(options.get("secrets_dir") or "/etc/alertmanager/secrets").rstrip("/")
    pagerduty_keys = options.get("pagerduty_keys")
    watchdog_urls = options.get("watchdog_webhook_urls") or []
    if not isinstance(watchdog_urls, list) or not all(isinstance(url, str) and url for url in watchdog_urls):
        _fail("watchdog_webhook_urls must be a list of URLs")
    if pagerduty_keys is not None:
        pagerduty_keys = set(pagerduty_keys)

    _check_keys("the policy", policy, POLICY_KEYS)
    for required in ("severities", "teams", "default"):
        if required not in policy:
            _fail(f"the policy has no {required!r}")

    tiers = policy["severities"]
    if not isinstance(tiers, list) or not tiers:
        _fail("'severities' must be a non-empty list, most severe first")
    checked_tiers = []
    for index, tier in enumerate(tiers):
        _check_keys(f"severity #{index + 1}", tier, TIER_KEYS)
        name = _check_name(f"severity #{index + 1}", tier.get("name"))
        where = f"severity {name!r}"
        checked_tiers.append({
            "name": name,
            "channels": _check_channels(where, tier.get("channels")),
            "matchers": _check_matchers(where, tier.get("matchers", [f'severity="{name}"'])),
            "timings": {
                key: _check_duration(f"{where}: {key}", tier[key])
                for key in ("group_wait", "group_interval", "repeat_interval")
                if key in tier
            },
        })
    _unique("severities", [tier["name"] for tier in checked_tiers])
    tier_names = [tier["name"] for tier in checked_tiers]

    teams = policy["teams"]
    if not isinstance(teams, list):
        _fail("'teams' must be a list")
    receivers = []
    routes = []
    for index, team in enumerate(teams):
        _check_keys(f"team #{index + 1}", team, TEAM_KEYS)
        name = _check_name(f"team #{index + 1}", team.get("name"))
        where = f"team {name!r}"
        if name in ("default", WATCHDOG):
            _fail(f"{where}: {name!r} is the name of a receiver the filter makes (unmatched alerts, the Watchdog)")
        matchers = _check_matchers(where, team.get("matchers", [f'team="{name}"']))
        overrides = team.get("channels", {})
        if not isinstance(overrides, Mapping):
            _fail(f"{where}: 'channels' must map severity names to channel lists")
        for tier_name in overrides:
            if tier_name not in tier_names:
                _fail(f"{where}: 'channels' names the unknown severity {tier_name!r}; severities: {tier_names}")
        for tier in checked_tiers:
            channels = _check_channels(f"{where}, severity {tier['name']!r}", overrides.get(tier["name"], tier["channels"]))
            _check_contacts(where, team, channels, pagerduty_keys)
            receiver_name = f"{name}-{tier['name']}"
            receivers.append({"name": receiver_name, **integrations(team, channels, tier["name"], secrets_dir)})
            routes.append({"receiver": receiver_name, "matchers": matchers + tier["matchers"], **tier["timings"]})
    _unique("teams", [team["name"] for team in teams])

    default = policy["default"]
    _check_keys("the default receiver", default, DEFAULT_KEYS)
    default_channels = _check_channels("the default receiver", default.get("channels"))
    _check_contacts("the default receiver", default, default_channels, pagerduty_keys)
    receivers.insert(0, {"name": "default", **integrations(default, default_channels, "warning", secrets_dir)})
    # After every team's routes: a tier's alert of no known team, through the default contacts.
    for tier in checked_tiers:
        _check_contacts(f"the default receiver (for {tier['name']} alerts of no known team)", default, tier["channels"],
                        pagerduty_keys)
        receiver_name = f"default-{tier['name']}"
        receivers.append({"name": receiver_name, **integrations(default, tier["channels"], tier["name"], secrets_dir)})
        routes.append({"receiver": receiver_name, "matchers": tier["matchers"], **tier["timings"]})
    _unique("receivers", [receiver["name"] for receiver in receivers])

    group_by = policy.get("group_by", ["alertname", "team", "severity", "instance"])
    equal = policy.get("inhibit_equal", ["alertname", "instance"])
    for key, labels in (("group_by", group_by), ("inhibit_equal", equal)):
        if not isinstance(labels, list) or not all(isinstance(label, str) and label for label in labels):
            _fail(f"{key!r} must be a list of label names")

    inhibit_rules = [
        {"source_matchers": source["matchers"], "target_matchers": target["matchers"], "equal": list(equal)}
        for position, source in enumerate(checked_tiers)
        for target in checked_tiers[position + 1:]
    ]
    # First of all: the Watchdog never reaches a team or the default contacts.
    receivers.append({"name": WATCHDOG, **({"webhook_configs": [{"url": url, "send_resolved": False} for url in watchdog_urls]}
                                           if watchdog_urls else {})})
    _unique("receivers", [receiver["name"] for receiver in receivers])
    routes.insert(0, {"receiver": WATCHDOG, "matchers": [f'alertname="{WATCHDOG_ALERT}"'],
                      "group_wait": "0s", "group_interval": "1m", "repeat_interval": "1m"})
    return {
        "route": {"receiver": "default", "group_by": list(group_by), "routes": routes},
        "receivers": receivers,
        "inhibit_rules": inhibit_rules,
    }
