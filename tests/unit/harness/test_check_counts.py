"""The lint check that refuses hand-written counts of what the collection ships."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "harness"))
import check_counts  # noqa: E402


@pytest.mark.parametrize("text", [
    "Prometheus with 69 alerting rules",
    "the docker-compose stack's ten dashboards",
    "ships eight log sources",
    "ten shipped dashboards in three folders",
    "Adding one of the 3 notification channels",
])
def test_a_count_of_what_ships_is_found(text):
    assert check_counts.counts_in(text), text


@pytest.mark.parametrize("text", [
    "the shipped dashboards, listed in docs/dashboards.md",
    "at least 40 alerting rules evaluate without error",
    "every log source ships with a job label",
    "port 9093 and 9094",
])
def test_text_without_a_count_passes(text):
    assert check_counts.counts_in(text) == []


def test_the_line_of_each_count_is_reported():
    assert check_counts.counts_in("first\nsecond with 12 dashboards\n") == [(2, "12 dashboards")]


def test_a_count_split_over_two_lines_is_found():
    assert check_counts.counts_in("the stack's ten\ndashboards ship") == [(1, "ten dashboards")]


def test_generated_docs_and_measurements_are_not_checked():
    checked = {path.relative_to(check_counts.ROOT).as_posix() for path in check_counts.checked_files()}
    assert "README.md" in checked and "roles/grafana/meta/argument_specs.yml" in checked
    assert not checked & {"docs/dashboards.md", "docs/alerts.md", "docs/performance.md", "docs/roles/grafana.md"}
