"""What users read names the original setup as they know it: the docker-compose stack and its .env file."""

from __future__ import annotations

import re

from conftest import ROOT

# What users read: the README and docs, the playbooks and their messages, the inventories, the roles.
READ_BY_USERS = ["README.md", "docs/**/*.md", "playbooks/**/*.yml", "inventories/**/*.yml", "inventories/vault.yml.example",
                 "roles/*/defaults/main.yml", "roles/*/meta/argument_specs.yml", "roles/*/tasks/*.yml", "sandbox/README.md"]
# The project's own name for it (the bcrypt filter's salt seed is in plugins/, not listed here).
INTERNAL_NAME = re.compile(r"\bseed(?:'s)?\b", re.IGNORECASE)


def test_no_user_facing_text_calls_the_docker_compose_stack_the_seed():
    found, read = [], 0
    for pattern in READ_BY_USERS:
        for path in sorted(ROOT.glob(pattern)):
            read += 1
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if INTERNAL_NAME.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert read > 40, read
    assert found == []


def test_the_preflight_names_each_secret_by_its_docker_compose_variable():
    text = (ROOT / "playbooks/vars/required_secrets.yml").read_text()
    for variable in ("GRAFANA_ADMIN_PASSWORD", "SMTP_PASSWORD", "SLACK_WEBHOOK_URL", "PAGERDUTY_SERVICE_KEY", "POSTGRES_PASSWORD",
                     "REDIS_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert f"({variable} in the docker-compose stack's .env file)" in text, variable
