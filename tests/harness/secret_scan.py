"""Search the places an attacker would read for every secret of a run.

The secrets (needles) are the values of every variable that the roles'
argument specs declare ``no_log``, and of every ``vault_*`` variable, on any
host of an inventory (plus any extra values a test adds). A URL's password
and a webhook URL's last path segment (its token) count as secrets of their
own, since a log may show them without the rest of the value.

The places (haystacks) are each host's whole journal (every field of every
entry, ``journalctl -o json``), every file below its ``/var/log``, and any
text the caller gives, such as a play's output at ``-vvv --diff``.

The hosts are containers: their logs are read with ``docker exec``, which
runs no Ansible module and so adds nothing to the journal it reads. The
secrets never leave the controller.

Used by every Molecule scenario's verify step (molecule/conftest.py) and by
the sandbox's health check; run by hand:

    python tests/harness/secret_scan.py -i INVENTORY [--host NAME ...] [--output FILE ...]

It prints one line per finding (the secret's variable name, never its value,
and where it was found) and a summary, and exits 1 when anything was found.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# Shorter values (a user name, "admin") would match unrelated text; the
# scenarios and the sandbox use long secrets.
MIN_LENGTH = 8
# A private key in any log is a leak, whichever variable carried it.
PRIVATE_KEY_MARK = "PRIVATE KEY-----"


@dataclass(frozen=True)
class Finding:
    secret: str  # the variable's name (and which part of it), never the value
    place: str  # host and source: "db: journal", "db: /var/log/syslog", "output of converge -vvv"


def no_log_variables(root: Path = ROOT) -> set[str]:
    """Every role variable whose argument spec says no_log: true (top-level options)."""
    names = set()
    for spec_file in sorted(root.glob("roles/*/meta/argument_specs.yml")):
        specs = yaml.safe_load(spec_file.read_text(encoding="utf-8"))["argument_specs"]
        for entry_point in specs.values():
            for name, option in (entry_point.get("options") or {}).items():
                if option.get("no_log") or _has_no_log_suboption(option):
                    names.add(name)
    return names


def _has_no_log_suboption(option: Mapping) -> bool:
    return any(sub.get("no_log") or _has_no_log_suboption(sub) for sub in (option.get("options") or {}).values())


def _strings(value) -> Iterable[str]:
    """Every string in a value: the value itself, a mapping's values, a list's items."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield str(value)


def _vault_text(value) -> object:
    """An inline-vaulted value as ansible-inventory prints it is not its secret: skip it."""
    if isinstance(value, Mapping) and "__ansible_vault" in value:
        return None
    return value


def needles(named_values: Mapping[str, object]) -> dict[str, str]:
    """{secret value: label} for the values of the given variables.

    A URL is a secret when it carries a password (searched alone too) or is
    a web URL with a path, such as a webhook whose last segment is its token
    (searched alone too). Any other URL is an address, such as Redis's
    redis://host:port, which services rightly log.
    """
    found: dict[str, str] = {}

    def add(value: str, label: str) -> bool:
        value = value.strip()
        if len(value) >= MIN_LENGTH and "{{" not in value and "{%" not in value:
            found.setdefault(value, label)
            return True
        return False

    for name, value in named_values.items():
        for text in _strings(_vault_text(value)):
            if "://" not in text:
                add(text, name)
                continue
            parts = urllib.parse.urlsplit(text.strip())
            segments = [segment for segment in parts.path.split("/") if segment]
            has_secret = bool(parts.password) and add(urllib.parse.unquote(parts.password), f"{name} (password in the URL)")
            if parts.scheme in ("http", "https") and segments:
                has_secret = add(segments[-1], f"{name} (last part of the URL)") or has_secret
            if has_secret:
                add(text, name)
    return found


def inventory_hostvars(inventory: str) -> dict[str, dict]:
    """Every host's variables as the inventory sets them (vault files decrypted, nothing templated)."""
    completed = subprocess.run(["ansible-inventory", "-i", inventory, "--list"],
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"ansible-inventory failed: {completed.stderr.strip()}")
    listing = json.loads(completed.stdout)
    hostvars = listing.get("_meta", {}).get("hostvars", {})
    hosts = set(hostvars)
    for group in listing.values():
        if isinstance(group, Mapping):
            hosts.update(group.get("hosts", []))
    return {host: hostvars.get(host, {}) for host in sorted(hosts)}


def inventory_secrets(hostvars: Mapping[str, Mapping], secret_names: set[str] | None = None) -> dict[str, str]:
    """The needles of every host: no_log role variables and vault_* variables."""
    secret_names = no_log_variables() if secret_names is None else secret_names
    found: dict[str, str] = {}
    for variables in hostvars.values():
        for name, value in variables.items():
            if name in secret_names or name.startswith("vault_"):
                for needle, label in needles({name: value}).items():
                    found.setdefault(needle, label)
    return found


def _journal_text(container: str) -> str:
    """Every field of every journal entry, one entry per line; binary fields decoded."""
    completed = subprocess.run(["docker", "exec", container, "journalctl", "--no-pager", "--all", "-q", "-o", "json"],
                               capture_output=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{container}: journalctl failed: {completed.stderr.decode(errors='replace').strip()}")
    lines = []
    for raw in completed.stdout.splitlines():
        entry = json.loads(raw)
        fields = []
        for key, value in entry.items():
            if isinstance(value, list):  # a binary field, or a field given more than once
                value = bytes(value).decode(errors="replace") if all(isinstance(v, int) for v in value) else " ".join(map(str, value))
            fields.append(f"{key}={value}")
        lines.append("\t".join(fields))
    return "\n".join(lines)


def _var_log_files(container: str) -> dict[str, str]:
    """Every regular file below /var/log but the binary journal (read through journalctl)."""
    completed = subprocess.run(["docker", "exec", container, "tar", "-C", "/var/log", "--exclude=./journal", "-cf", "-", "."],
                               capture_output=True, check=False)
    if completed.returncode not in (0, 1):  # 1: a file changed while read
        raise RuntimeError(f"{container}: reading /var/log failed: {completed.stderr.decode(errors='replace').strip()}")
    files = {}
    with tarfile.open(fileobj=io.BytesIO(completed.stdout)) as archive:
        for member in archive.getmembers():
            if member.isfile():
                stream = archive.extractfile(member)
                files["/var/log/" + member.name.lstrip("./")] = stream.read().decode(errors="replace")
    return files


def host_logs(container: str) -> dict[str, str]:
    """{place: text} for one host: its journal and each file below /var/log."""
    places = {f"{container}: journal": _journal_text(container)}
    places.update({f"{container}: {path}": text for path, text in _var_log_files(container).items()})
    return places


def search(secrets: Mapping[str, str], places: Mapping[str, str]) -> list[Finding]:
    """Each (secret, place) where the secret's value occurs, and any private key."""
    findings = []
    for place, text in places.items():
        for value, label in secrets.items():
            if value in text:
                findings.append(Finding(label, place))
        if PRIVATE_KEY_MARK in text:
            findings.append(Finding("a private key", place))
    return findings


def scan(hosts: Iterable[str], secrets: Mapping[str, str], outputs: Mapping[str, str] | None = None) -> tuple[list[Finding], int]:
    """Search every host's logs and the given outputs; returns the findings and how many places were read."""
    places = dict(outputs or {})
    for host in hosts:
        places.update(host_logs(host))
    return search(secrets, places), len(places)


def report(findings: list[Finding], secrets: Mapping[str, str], places: int) -> str:
    lines = [f"found: {finding.secret} in {finding.place}" for finding in findings]
    names = sorted(set(secrets.values()))
    lines.append(f"{len(findings)} found: {len(secrets)} secret values ({', '.join(names)}) searched in {places} places")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("-i", "--inventory", required=True, help="the inventory whose secrets to look for")
    parser.add_argument("--host", action="append", dest="hosts",
                        help="container to read (repeatable; default: every inventory host)")
    parser.add_argument("--output", action="append", default=[], help="a file of play output to search too (repeatable)")
    args = parser.parse_args(argv)
    hostvars = inventory_hostvars(args.inventory)
    secrets = inventory_secrets(hostvars)
    outputs = {f"output {path}": Path(path).read_text(encoding="utf-8", errors="replace") for path in args.output}
    findings, places = scan(args.hosts or list(hostvars), secrets, outputs)
    print(report(findings, secrets, places))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
