# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of the fleet's secrets are missing from the vault.

The site playbook checks this on the controller before it touches any host,
and names every missing secret at once. A requirement is a mapping:

  name     the variable that carries the secret (vault_* in the shipped inventories)
  groups   the inventory groups whose hosts need it
  purpose  what it is for, for the message
  when     optional: a variable that must be set (non-empty) on the host for the
           secret to be needed, such as backup_s3_bucket for the S3 keys

A value that still holds the example file's CHANGE-ME placeholder is missing.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

KEYS = {"name", "groups", "purpose", "when"}
# The placeholder of inventories/vault.yml.example: a copy not filled in yet.
PLACEHOLDER = "CHANGE-ME"


def _is_set(value) -> bool:
    return value is not None and value != "" and value != {} and value != []


def _is_secret(value) -> bool:
    return _is_set(value) and not (isinstance(value, str) and PLACEHOLDER in value)


def _check(requirement) -> None:
    if not isinstance(requirement, Mapping):
        raise AnsibleFilterError(f"missing_secrets: a requirement must be a mapping, got {requirement!r}")
    unknown = set(requirement) - KEYS
    if unknown:
        raise AnsibleFilterError(f"missing_secrets: requirement {requirement.get('name')!r} has unknown keys {sorted(unknown)}")
    if not isinstance(requirement.get("name"), str) or not requirement["name"]:
        raise AnsibleFilterError(f"missing_secrets: a requirement needs a name, got {requirement!r}")
    groups = requirement.get("groups")
    if not isinstance(groups, list) or not groups or not all(isinstance(group, str) for group in groups):
        raise AnsibleFilterError(f"missing_secrets: requirement {requirement['name']!r} needs groups, a list of group names")


def missing_secrets(required, hostvars: Mapping, groups: Mapping) -> list:
    """The requirements some host of their groups lacks, each with those hosts, in the order given."""
    if not isinstance(required, list):
        raise AnsibleFilterError("missing_secrets: the requirements must be a list")
    missing = []
    for requirement in required:
        _check(requirement)
        hosts = []
        for group in requirement["groups"]:
            for host in groups.get(group, []):
                variables = hostvars.get(host, {})
                if requirement.get("when") and not _is_set(variables.get(requirement["when"])):
                    continue
                if not _is_secret(variables.get(requirement["name"])) and host not in hosts:
                    hosts.append(host)
        if hosts:
            missing.append({"name": requirement["name"], "purpose": requirement.get("purpose", ""), "hosts": hosts})
    return missing
