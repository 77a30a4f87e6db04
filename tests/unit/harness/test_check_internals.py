"""The lint check that keeps each role's internal variables its own."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "harness"))

import check_internals  # noqa: E402

ROLES = ["common", "exporters", "prometheus"]


def test_a_read_of_another_roles_internal_is_named_with_its_line():
    text = "---\n- name: Restart\n  when: __common_unit_states['node_exporter'].unit_loaded\n"
    assert check_internals.internal_reads("exporters", text, ROLES) == [(3, "__common_unit_states")]
    assert check_internals.internal_reads("common", "{{ __prometheus_local_url }}", ROLES) == [(1, "__prometheus_local_url")]


def test_a_roles_own_internals_and_public_variables_pass():
    text = "{{ __exporters_endpoints }} {{ common_services }} {{ prometheus_config_dir }} {{ x__common_y }}"
    assert check_internals.internal_reads("exporters", text, ROLES) == []


def test_the_collection_has_no_cross_role_read():
    roles = check_internals.role_names()
    assert "common" in roles and len(roles) > 1
    assert check_internals.checked_files()
    assert check_internals.main() == 0


def test_the_handlers_before_issue_22_would_have_been_refused():
    # What every role's handlers read before the handler path moved to common.
    text = "  when: not ansible_check_mode or (__common_unit_states['loki'].unit_loaded | default(false))\n"
    assert check_internals.internal_reads("loki", text, check_internals.role_names()) == [(1, "__common_unit_states")]
