#!/usr/bin/python
# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: service_install_info
short_description: Tell in one look whether a service's account and install are already as wanted
version_added: 0.2.0
author: Data Aggregator Platform infrastructure team (@dataaggregator)
description:
  - Reports whether the system group and user of a service exist with the
    wanted primary group, supplementary groups, home and shell, and whether
    the install marker of a release archive exists.
  - The shared install tasks run M(ansible.builtin.group) and
    M(ansible.builtin.user) only when this says the account differs, and
    start the unit only when it is not enabled and running (or changed), so
    a converged host costs one remote execution here instead of four.
  - Changes nothing.
options:
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
    description: A systemd unit whose enabled and active states to report; empty for none.
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
- name: Look at the account and install marker of node_exporter
  dataaggregator.infrastructure.service_install_info:
    user: node_exporter
    group: node_exporter
    marker: /opt/dataaggregator/node_exporter/1.10.2/.installed
  register: node_exporter_install

- name: Create the user only when it differs
  ansible.builtin.user:
    name: node_exporter
    system: true
  when: not node_exporter_install.account_matches
"""

RETURN = r"""
account_matches:
  description: The group and user exist as wanted (always true for C(root)).
  returned: always
  type: bool
account_differences:
  description: What differs, for the log.
  returned: always
  type: list
  elements: str
marker_exists:
  description: The install marker exists (false when no marker was given).
  returned: always
  type: bool
unit_enabled:
  description: C(systemctl is-enabled) says C(enabled) (false when no unit was given).
  returned: always
  type: bool
unit_active:
  description: C(systemctl is-active) says C(active) (false when no unit was given).
  returned: always
  type: bool
"""

import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule


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


def main():
    module = AnsibleModule(
        argument_spec={
            "user": {"type": "str", "required": True},
            "group": {"type": "str", "required": True},
            "extra_groups": {"type": "list", "elements": "str", "default": []},
            "home": {"type": "str", "default": "/nonexistent"},
            "shell": {"type": "str", "default": "/usr/sbin/nologin"},
            "marker": {"type": "str", "default": ""},
            "unit": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    params = module.params
    differences = account_differences(params["user"], params["group"], params["extra_groups"],
                                      params["home"], params["shell"])
    unit_enabled = unit_active = False
    if params["unit"]:
        systemctl = module.get_bin_path("systemctl", required=True)
        # Both exit non-zero for "disabled" or "inactive": read the word only.
        unit_enabled = module.run_command([systemctl, "is-enabled", params["unit"]])[1].strip() == "enabled"
        unit_active = module.run_command([systemctl, "is-active", params["unit"]])[1].strip() == "active"
    module.exit_json(changed=False, account_matches=not differences, account_differences=differences,
                     marker_exists=bool(params["marker"]) and os.path.exists(params["marker"]),
                     unit_enabled=unit_enabled, unit_active=unit_active)


if __name__ == "__main__":
    main()
