# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Data Aggregator Platform
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record every task's duration, role and per-host result for benchmarks/provision."""

from __future__ import annotations

DOCUMENTATION = """
name: benchmark_stats
type: aggregate
short_description: write per-task timings and results as JSON
description:
  - Used by benchmarks/provision only. Writes one JSON document to the file named
    by BENCHMARK_STATS_FILE when the playbook ends.
requirements:
  - enable in configuration
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "benchmark_stats"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.tasks = []
        self.current = None
        self.started = time.monotonic()

    def close_task(self):
        if self.current is not None:
            self.current["seconds"] = time.monotonic() - self.current.pop("start")
            self.tasks.append(self.current)
            self.current = None

    def open_task(self, task, handler=False):
        self.close_task()
        role = task._role.get_name(include_role_fqcn=False) if task._role else ""
        self.current = {
            "name": task.get_name(),
            "action": task.action,
            "role": role,
            "handler": handler,
            "hosts": {},
            "start": time.monotonic(),
        }

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.open_task(task)

    def v2_playbook_on_handler_task_start(self, task):
        self.open_task(task, handler=True)

    def record(self, result, status):
        if self.current is None:
            return
        host = result._host.get_name()
        outcome = self.current["hosts"].setdefault(host, {"ok": 0, "changed": 0, "skipped": 0, "failed": 0})
        if status == "ok" and result._result.get("changed", False):
            status = "changed"
        outcome[status] += 1

    def v2_runner_on_ok(self, result):
        self.record(result, "ok")

    def v2_runner_on_skipped(self, result):
        self.record(result, "skipped")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self.record(result, "failed")

    def v2_playbook_on_stats(self, stats):
        self.close_task()
        path = os.environ.get("BENCHMARK_STATS_FILE")
        if path:
            with open(path, "w", encoding="utf-8") as stream:
                json.dump({"seconds": time.monotonic() - self.started, "tasks": self.tasks}, stream)
