"""Each service role applies its changes through its own copy of the one handler path.

Ansible keeps one copy of a handler per name, with the conditions of the
role that loaded it: a handler shared through the common role would run under
the last loader's conditions, and skip other roles' restarts where those are
false. So common has no handler, and each role's handler includes the path
under the topic that common's steps notify.
"""

from __future__ import annotations

import pytest
import yaml

from conftest import ROOT, render_role

SERVICE_ROLES = sorted(path.parent.parent.name for path in ROOT.glob("roles/*/tasks/main.yml")
                       if "tasks_from: service" in path.read_text())


def test_every_role_that_runs_the_service_step_is_checked():
    assert {"prometheus", "alertmanager", "exporters", "grafana", "loki", "promtail"} <= set(SERVICE_ROLES)


def test_common_has_no_handler_of_its_own():
    assert not (ROOT / "roles/common/handlers/main.yml").exists()


@pytest.mark.parametrize("role", SERVICE_ROLES)
def test_the_role_includes_the_handler_path_under_its_own_topic(role, tmp_path):
    handlers = yaml.safe_load((ROOT / f"roles/{role}/handlers/main.yml").read_text())
    assert len(handlers) == 1
    handler = handlers[0]
    assert handler["ansible.builtin.include_tasks"] == "../../common/handlers/apply_changes.yml"
    assert (ROOT / f"roles/{role}/handlers" / handler["ansible.builtin.include_tasks"]).resolve().is_file()
    # The topic the common role's steps notify, from inside this role.
    rc, output, topic = render_role("common", "__common_handler_topic", tmp_path,
                                    {"ansible_parent_role_names": [f"dataaggregator.infrastructure.{role}"]})
    assert rc == 0, output
    assert handler["listen"] == topic == f"dataaggregator.infrastructure.{role} apply service changes"
