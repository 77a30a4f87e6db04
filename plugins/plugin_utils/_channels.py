# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The notification channels of the routing policy, said once.

Each channel is one Alertmanager integration. CHANNELS says, per channel:
  integration  the receiver's key in alertmanager.yml (email_configs...)
  contact      the team's (or the default receiver's) setting it sends to,
               and whether that setting is a list
  required     the alertmanager role's settings it cannot work without; the
               preflight names them when the policy uses the channel
  secrets      the role's settings that are secrets: each is written to a
               file of the secrets directory, which alertmanager.yml names
               by a global key (by reference, for a mapping of secrets)
  inline       true when the contact itself is a secret kept in
               alertmanager.yml (webhook URLs), which is then never shown
  build        the integration entries of one receiver
The routing filter (_alert_routes), the role's vars (which read the settings
channel_settings names) and preflight, and the generated docs read this
registry; adding a channel is an entry here, its role settings (defaults and
argument spec), its tests and the regenerated docs.
"""

from __future__ import annotations

from collections.abc import Mapping

TEMPLATE_PREFIX = "dataaggregator"
# PagerDuty's event severities; other tier names are sent as "critical".
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")


def _template(name: str) -> str:
    return f'{{{{ template "{TEMPLATE_PREFIX}.{name}" . }}}}'


def _email(contacts: Mapping, tier: str, secrets_dir: str) -> list:
    return [{"to": ", ".join(contacts["email_to"]), "send_resolved": True,
             "headers": {"Subject": _template("email.subject")},
             "html": _template("email.html"), "text": _template("email.text")}]


def _slack(contacts: Mapping, tier: str, secrets_dir: str) -> list:
    return [{"channel": contacts["slack_channel"], "send_resolved": True, "color": _template("slack.color"),
             "title": _template("slack.title"), "text": _template("slack.text")}]


def _pagerduty(contacts: Mapping, tier: str, secrets_dir: str) -> list:
    return [{"routing_key_file": f"{secrets_dir}/pagerduty-{contacts['pagerduty_routing_key']}",
             "severity": tier if tier in PAGERDUTY_SEVERITIES else "critical",
             "description": _template("pagerduty.description"), "send_resolved": True}]


def _webhook(contacts: Mapping, tier: str, secrets_dir: str) -> list:
    return [{"url": url, "send_resolved": True} for url in contacts["webhook_urls"]]


CHANNELS = {
    "email": {
        "integration": "email_configs", "contact": "email_to", "contact_is_list": True,
        "required": ["smtp_smarthost", "smtp_from"],
        "secrets": [{"setting": "smtp_auth_password", "file": "smtp-password", "global": "smtp_auth_password_file",
                     "with": {"smtp_auth_username": "smtp_auth_username"}}],
        "inline": False, "build": _email,
    },
    "slack": {
        "integration": "slack_configs", "contact": "slack_channel", "contact_is_list": False,
        "required": ["slack_api_url"],
        "secrets": [{"setting": "slack_api_url", "file": "slack-api-url", "global": "slack_api_url_file"}],
        "inline": False, "build": _slack,
    },
    "pagerduty": {
        "integration": "pagerduty_configs", "contact": "pagerduty_routing_key", "contact_is_list": False,
        "required": [],
        # A mapping: one file per key, pagerduty-<reference>, named by each receiver.
        "secrets": [{"setting": "pagerduty_routing_keys", "file": "pagerduty-{}"}],
        "inline": False, "build": _pagerduty,
    },
    "webhook": {
        "integration": "webhook_configs", "contact": "webhook_urls", "contact_is_list": True,
        "required": [], "secrets": [], "inline": True, "build": _webhook,
    },
}
SETTING_PREFIX = "alertmanager_"


def integrations(contacts: Mapping, channels: list, tier: str, secrets_dir: str) -> dict:
    """The *_configs of one receiver, in the registry's order."""
    return {entry["integration"]: entry["build"](contacts, tier, secrets_dir)
            for name, entry in CHANNELS.items() if name in channels}


def channels_used(receivers: list) -> list:
    """The channels whose integration any receiver holds, in the registry's order."""
    keys = {key for receiver in receivers for key in receiver}
    return [name for name, entry in CHANNELS.items() if entry["integration"] in keys]


def _is_set(value) -> bool:
    return value not in (None, "", {}, [])


def channel_files(settings: Mapping, secrets_dir: str) -> dict:
    """The secret files of the channels and the global settings that name them.

    settings are the role's settings without their prefix (smtp_auth_password,
    pagerduty_routing_keys...). Returns {"files": name to content, "global":
    alertmanager.yml's global keys}: only the secrets that are set.
    """
    files, global_settings = {}, {}
    for entry in CHANNELS.values():
        for secret in entry["secrets"]:
            value = settings.get(secret["setting"])
            if isinstance(value, Mapping):
                files |= {secret["file"].format(reference): content for reference, content in value.items()}
            elif _is_set(value):
                files[secret["file"]] = value
                global_settings |= {key: settings.get(source, "") for key, source in secret.get("with", {}).items()}
                global_settings[secret["global"]] = f"{secrets_dir.rstrip('/')}/{secret['file']}"
    return {"files": files, "global": global_settings}


def unconfigured_channels(used: list, settings: Mapping) -> list:
    """One message per channel the policy uses whose required settings are empty, naming the variables."""
    messages = []
    for name in used:
        missing = [SETTING_PREFIX + setting for setting in CHANNELS[name]["required"] if not _is_set(settings.get(setting))]
        if missing:
            messages.append(f"The routing policy notifies by {name}, which needs {' and '.join(missing)}")
    return messages


def secret_config(used: list) -> bool:
    """Whether alertmanager.yml holds a secret inline (a channel whose contact is one)."""
    return any(CHANNELS[name]["inline"] for name in used)


def channel_settings(prefix: str = SETTING_PREFIX) -> list:
    """The role's variables the registry reads (required settings, secrets and what goes with them), prefixed."""
    names = []
    for entry in CHANNELS.values():
        names += entry["required"]
        for secret in entry["secrets"]:
            names += [secret["setting"], *secret.get("with", {}).values()]
    return [prefix + name for name in dict.fromkeys(names)]


def notification_channels(settings: Mapping, secrets_dir: str, receivers: list) -> dict:
    """All the alertmanager role needs to know of its channels, from its settings and the routing's receivers.

    used: the channels the receivers use. files and global: the secret files
    and the global keys that name them (channel_files). unconfigured: one
    message per used channel without its required settings. secret_config:
    whether alertmanager.yml holds a secret inline.
    """
    used = channels_used(receivers)
    return {"used": used, **channel_files(settings, secrets_dir),
            "unconfigured": unconfigured_channels(used, settings), "secret_config": secret_config(used)}
