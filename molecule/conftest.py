"""Helpers shared by the Molecule scenarios' testinfra tests.

Molecule runs the tests with its own environment (inventory, ansible.cfg,
collections path), so a test can also run ansible-playbook against the same
hosts, for the checks that need a whole play: --check, bad input, a broken
download.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import testinfra
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "harness"))
import secret_scan  # noqa: E402  (the harness's, shared with the sandbox's health check)

HTTP_PROBE = r"""
import base64, json, ssl, sys, urllib.error, urllib.request
url, user, password, cafile, data = sys.argv[1:6]
request = urllib.request.Request(url, data=data.encode() or None)
if data:
    request.add_header("Content-Type", "application/json")
if user:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request.add_header("Authorization", "Basic " + token)
context = ssl.create_default_context(cafile=cafile) if cafile else None
try:
    with urllib.request.urlopen(request, context=context, timeout=5) as response:
        print(json.dumps({"status": response.status, "body": response.read().decode()}))
except urllib.error.HTTPError as error:
    print(json.dumps({"status": error.code, "body": ""}))
except (urllib.error.URLError, OSError) as error:
    print(json.dumps({"status": 0, "body": str(error)}))
"""

RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")


def http_get(host, url, user="", password="", cafile="", data=""):
    """GET a URL from inside a test host (POST data as JSON if given); returns {"status": int, "body": str}.

    status is 0 when no HTTP answer came at all (refused, TLS error, timeout).
    """
    result = host.run("python3 -c %s %s %s %s %s %s", HTTP_PROBE, url, user, password, cafile, data)
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def http_post_json(host, url, payload, **credentials):
    """POST a JSON payload from inside a test host; returns {"status": int, "body": str}."""
    return http_get(host, url, data=json.dumps(payload), **credentials)


def wait_until(predicate, timeout, interval=0.5):
    """Poll predicate until it returns a truthy value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def inventory_host(name: str):
    """A testinfra host for an inventory host by name (for tests that run once).

    Straight through docker exec, as root: through the inventory, a host with
    ansible_become (the shared inventories set it) would run each command under
    sudo, which logs the whole command line, credentials of a test included,
    to the journal that the secret search reads.
    """
    return testinfra.get_host(f"docker://{name}")


def inventory_groups() -> dict:
    """{group: [host, ...]} of the scenario's inventory, child groups' hosts included."""
    completed = subprocess.run(["ansible-inventory", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--list"],
                               capture_output=True, text=True, check=True)
    listing = json.loads(completed.stdout)

    def hosts_of(name, seen=()):
        group = listing.get(name, {})
        hosts = list(group.get("hosts", []))
        for child in group.get("children", []):
            if child not in seen:
                hosts += [host for host in hosts_of(child, (*seen, name)) if host not in hosts]
        return hosts

    return {name: hosts_of(name) for name in listing if name != "_meta"}


def start_unit(host, unit):
    """Start a unit (a oneshot job waits until done); returns (succeeded, its journal since the start)."""
    cursor = host.run("journalctl -n 0 --show-cursor -q | tail -1").stdout.split("cursor: ")[-1].strip()
    result = host.run(f"systemctl start {unit}")
    journal = host.run(f"journalctl -u {unit} --after-cursor '{cursor}' -o cat -q").stdout
    return result.rc == 0, journal


def scenario_dir() -> Path:
    return Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])


def run_playbook(*args, playbook="converge.yml"):
    """Run a playbook of the scenario against Molecule's inventory."""
    command = [
        "ansible-playbook",
        "-i",
        os.environ["MOLECULE_INVENTORY_FILE"],
        str(scenario_dir() / playbook),
        *args,
    ]
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="true")
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=900)
    return completed.returncode, completed.stdout + completed.stderr


def play_recap(output: str) -> dict[str, dict[str, int]]:
    """Parse PLAY RECAP lines into {host: {"ok": n, "changed": n, ...}}."""
    recap = {}
    in_recap = False
    for line in output.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        match = RECAP_LINE.match(line.strip()) if in_recap else None
        if match:
            counts = dict(item.split("=") for item in match["counts"].split())
            recap[match["host"]] = {key: int(value) for key, value in counts.items()}
    return recap


def handler_items(output: str, handler: str) -> list[str]:
    """The loop items one of the common role's handler tasks acted on, in a playbook's output.

    handler is the task's name (all services share one handler path, which
    each service role's handler includes, so it runs under that role's name);
    an empty list when it ran over nothing or did not run.
    """
    sections = re.split(r"RUNNING HANDLER \[dataaggregator\.infrastructure\.\w+ : " + re.escape(handler) + r"\]", output)
    return [item for section in sections[1:] for item in re.findall(r"\(item=([^)]+)\)", section.split("RUNNING HANDLER", 1)[0])]


def mirror_url(path: str) -> str:
    """URL of a file on the local artifact mirror, as the controller reaches it."""
    return f"http://127.0.0.1:{os.environ.get('DA_MIRROR_PORT', '18080')}/{path}"


def mirror_version(host, name: str) -> str:
    """The version of a program that the mirror serves for this host's Debian release (its own build)."""
    release = host.check_output(". /etc/os-release && echo $VERSION_ID")
    with urllib.request.urlopen(mirror_url("versions.json"), timeout=5) as response:
        return json.loads(response.read())[release][name]


def served_as_standin(name: str) -> bool:
    """Whether the mirror serves an offline stand-in for this program, not the real artifact."""
    with urllib.request.urlopen(mirror_url("standins.txt"), timeout=5) as response:
        listed = [line.split()[0] for line in response.read().decode().splitlines() if line.strip()]
    return name in listed


def require_real(name: str) -> None:
    """Skip, with the reason, a test of behaviour that only the real program has."""
    if served_as_standin(name):
        pytest.skip(
            f"needs the real {name}: the mirror serves the offline stand-in "
            f"(put the upstream artifact in the directory named by DA_REAL_ARTIFACTS to run this)"
        )


@pytest.fixture(scope="module")
def host_vars(host):
    """The Ansible variables of the host under test."""
    return host.ansible.get_variables()


def pytest_configure(config):
    config.addinivalue_line("markers", "last: run after every other test of the scenario (they add to the logs it reads)")


def pytest_collection_modifyitems(items):
    """Tests marked last run at the end, in their order (the sort is stable)."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


def assert_no_secret_anywhere(extra_secrets=(), playbook="converge.yml"):
    """Re-run the converge at -vvv --diff, then search its output and every host's logs for every secret.

    The secrets: every value of a no_log role variable or a vault_* variable
    of any host in the scenario's inventory, and the extra values a test
    used (secrets changed in a test's own run). The places: the play's
    output, each host's whole journal and every file below its /var/log.
    Returns the number of secrets searched.
    """
    rc, output = run_playbook("--diff", "-vvv", playbook=playbook)
    assert rc == 0, output
    hostvars = secret_scan.inventory_hostvars(os.environ["MOLECULE_INVENTORY_FILE"])
    secrets = secret_scan.inventory_secrets(hostvars)
    for value, label in secret_scan.needles({f"a test's secret {number}": value
                                             for number, value in enumerate(extra_secrets, 1)}).items():
        secrets.setdefault(value, label)
    assert secrets, "no secret to look for: the search would prove nothing"
    findings, places = secret_scan.scan(hostvars, secrets, {"the converge at -vvv --diff": output})
    report = secret_scan.report(findings, secrets, places)
    # Kept after the scenario's containers are gone, for the figures in docs/security.md.
    kept = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / ".cache" / "secret-scan" / f"{scenario_dir().name}.txt"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(report + "\n", encoding="utf-8")
    assert not findings, report
    return len(secrets)


EXPOSURE_LIMITS = Path(__file__).resolve().parents[1] / "tests" / "unit" / "roles" / "unit_exposure.yml"
EXPOSURE_SCORE = re.compile(r"Overall exposure level for (\S+): (\d+\.\d+)")


def assert_units_within_exposure_limits(profile="basic"):
    """Score every unit the collection installed on every host with systemd-analyze security, on the running system.

    The collection's units are those whose file carries Ansible's managed
    header; each must have a limit in tests/unit/roles/unit_exposure.yml (the
    one the offline unit test holds), for the profile auto picks in these
    containers, and run under that profile. The figures are kept in
    .cache/exposure/<scenario>.txt. Returns the number of units scored.
    """
    limits = yaml.safe_load(EXPOSURE_LIMITS.read_text(encoding="utf-8"))[profile]
    lines, over = [], []
    for name in inventory_groups()["all"]:
        host = inventory_host(name)
        units = host.run("grep -l -F 'Ansible managed' /etc/systemd/system/*.service").stdout.split()
        for unit in sorted(Path(path).name for path in units):
            assert unit in limits, f"{unit} on {name} has no exposure limit in {EXPOSURE_LIMITS.name}"
            sandbox = host.run(f"systemctl show -p ProtectSystem --value {unit}").stdout.strip()
            assert sandbox == "strict", f"{unit} on {name} does not run under the {profile} profile (ProtectSystem={sandbox})"
            result = host.run(f"systemd-analyze security --no-pager {unit}")
            match = EXPOSURE_SCORE.search(result.stdout + result.stderr)
            assert match, result.stdout + result.stderr
            score = float(match.group(2))
            lines.append(f"{name} {unit} {score} (limit {limits[unit]})")
            if score > limits[unit]:
                over.append(lines[-1])
    assert lines, "no unit of the collection found: the check would prove nothing"
    kept = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / ".cache" / "exposure" / f"{scenario_dir().name}.txt"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    assert not over, f"more exposed than the limit: {over}"
    return len(lines)
