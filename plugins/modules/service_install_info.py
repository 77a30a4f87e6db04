#!/usr/bin/python
# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: service_install_info
short_description: Tell in one look whether services' accounts and installs are already as wanted
version_added: 0.1.0
author: Data Aggregator Platform infrastructure team (@dataaggregator)
description:
  - For each service of a list, reports whether its system group and user exist
    with the wanted primary group, supplementary groups, home and shell, whether
    the install marker of its release archive exists, and whether systemd knows
    its unit, has it enabled and running.
  - The shared install tasks run M(ansible.builtin.group) and
    M(ansible.builtin.user) only for services whose account differs, and start
    a unit only when it is not enabled and running (or changed), so a converged
    host costs one remote execution here for all of a role's services.
  - Changes nothing.
options:
  services:
    description: The services to look at.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The service's name; the key of its report in RV(services).
        type: str
        required: true
      user:
        description: The service's system user. C(root) means no account of its own.
        type: str
        required: true
      group:
        description: The user's primary group.
        type: str
        required: true
      extra_groups:
        description: Supplementary groups the user must belong to (others are allowed).
        type: list
        elements: str
        default: []
      home:
        description: The user's home directory.
        type: str
        default: /nonexistent
      shell:
        description: The user's login shell.
        type: str
        default: /usr/sbin/nologin
      marker:
        description: Path of the install marker to look for; empty for none.
        type: str
        default: ""
      unit:
        description: A systemd unit whose states to report; empty for none.
        type: str
        default: ""
  unit_mark:
    description:
      - A line that the units this collection writes carry. RV(services.unit_marked) says
        whether the file systemd loads a unit from holds it, so that a unit installed by
        other means (by hand, another collection) is never taken for the collection's own.
      - Empty to look for none.
    type: str
    default: ""
attributes:
  check_mode:
    description: Runs as usual; it never changes anything.
    support: full
  diff_mode:
    description: Nothing to show.
    support: none
"""

EXAMPLES = r"""
- name: Look at the accounts and installs of two exporters
  dataaggregator.infrastructure.service_install_info:
    services:
      - name: node_exporter
        user: node_exporter
        group: node_exporter
        marker: /opt/dataaggregator/node_exporter/1.10.2/.installed
        unit: node_exporter.service
      - name: cadvisor
        user: root
        group: root
        unit: cadvisor.service
  register: installed

- name: Create the user only when it differs
  ansible.builtin.user:
    name: node_exporter
    system: true
  when: not installed.services.node_exporter.account_matches
"""

RETURN = r"""
services:
  description: One report per service, by name.
  returned: always
  type: dict
  contains:
    account_matches:
      description: The group and user exist as wanted (always true for C(root)).
      type: bool
    account_differences:
      description: What differs, for the log.
      type: list
      elements: str
    marker_exists:
      description: The install marker exists (false when no marker was given).
      type: bool
    unit_loaded:
      description: systemd knows the unit (its C(LoadState) is C(loaded)); false when no unit was given.
      type: bool
    unit_enabled:
      description: The unit's C(UnitFileState) is C(enabled) (false when no unit was given).
      type: bool
    unit_active:
      description: The unit's C(ActiveState) is C(active) (false when no unit was given).
      type: bool
    unit_marked:
      description: The file systemd loads the unit from holds O(unit_mark) (false when no mark or unit was given).
      type: bool
"""

import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule

UNIT_PROPERTIES = ("LoadState", "UnitFileState", "ActiveState", "FragmentPath")


def account_differences(user, group, extra_groups, home, shell):
    """What stands between the host's account and the wanted one; empty when they match."""
    if user == "root":
        return []
    try:
        group_entry = grp.getgrnam(group)
    except KeyError:
        return [f"group {group} is missing"]
    try:
        user_entry = pwd.getpwnam(user)
    except KeyError:
        return [f"user {user} is missing"]
    differences = []
    if user_entry.pw_gid != group_entry.gr_gid:
        differences.append(f"primary group is gid {user_entry.pw_gid}, not {group}")
    if user_entry.pw_dir != home:
        differences.append(f"home is {user_entry.pw_dir}, not {home}")
    if user_entry.pw_shell != shell:
        differences.append(f"shell is {user_entry.pw_shell}, not {shell}")
    for name in extra_groups:
        try:
            members = grp.getgrnam(name).gr_mem
        except KeyError:
            differences.append(f"group {name} is missing")
            continue
        if user not in members:
            differences.append(f"not a member of {name}")
    return differences


def unit_states(module, units):
    """LoadState, UnitFileState and ActiveState of each unit, from one systemctl call."""
    if not units:
        return {}
    systemctl = module.get_bin_path("systemctl", required=True)
    command = [systemctl, "show", "--property=" + ",".join(UNIT_PROPERTIES), "--"] + units
    rc, out, err = module.run_command(command)
    if rc != 0:
        module.fail_json(msg=f"systemctl show failed: {err.strip() or out.strip()}", rc=rc)
    # One block of KEY=value lines per unit, in the order asked, separated by a blank line.
    blocks = [dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
              for block in out.strip().split("\n\n")]
    if len(blocks) != len(units):
        module.fail_json(msg=f"systemctl show answered for {len(blocks)} of {len(units)} units", stdout=out)
    return dict(zip(units, blocks))


def holds_line(path, line):
    """Whether a unit file holds a line (False for a missing or unreadable file)."""
    if not line or not path:
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as unit_file:
            return any(candidate.rstrip("\n") == line for candidate in unit_file)
    except OSError:
        return False


def main():
    module = AnsibleModule(
        argument_spec={
            "services": {
                "type": "list", "elements": "dict", "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "user": {"type": "str", "required": True},
                    "group": {"type": "str", "required": True},
                    "extra_groups": {"type": "list", "elements": "str", "default": []},
                    "home": {"type": "str", "default": "/nonexistent"},
                    "shell": {"type": "str", "default": "/usr/sbin/nologin"},
                    "marker": {"type": "str", "default": ""},
                    "unit": {"type": "str", "default": ""},
                },
            },
            "unit_mark": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    services = module.params["services"]
    states = unit_states(module, [service["unit"] for service in services if service["unit"]])
    reports = {}
    for service in services:
        differences = account_differences(service["user"], service["group"], service["extra_groups"],
                                          service["home"], service["shell"])
        state = states.get(service["unit"], {})
        reports[service["name"]] = {
            "account_matches": not differences,
            "account_differences": differences,
            "marker_exists": bool(service["marker"]) and os.path.exists(service["marker"]),
            "unit_loaded": state.get("LoadState") == "loaded",
            "unit_enabled": state.get("UnitFileState") == "enabled",
            "unit_active": state.get("ActiveState") == "active",
            "unit_marked": holds_line(state.get("FragmentPath"), module.params["unit_mark"]),
        }
    module.exit_json(changed=False, services=reports)


if __name__ == "__main__":
    main()
