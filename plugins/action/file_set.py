# Copyright: Contributors to the dataaggregator.infrastructure collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the file_set module with secret contents in its no_log parameter.

The module's own documentation describes the options; this plugin only moves
the content of every file marked secret into O(secret_contents), which the
module declares no_log, so that the managed host's journal never receives it
(Ansible logs a module's other parameters there before the module runs).
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.dataaggregator.infrastructure.plugins.plugin_utils._file_set import (
    SecretContentError,
    split_secret_contents,
)


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        try:
            module_args = split_secret_contents(self._task.args)
        except SecretContentError as error:
            raise AnsibleActionFail(str(error)) from None
        result.update(self._execute_module(module_name="dataaggregator.infrastructure.file_set",
                                           module_args=module_args, task_vars=task_vars))
        return result
