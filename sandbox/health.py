"""The sandbox's summary: where its services are, how to log in, and a one-line health check.

Asks the sandbox's Prometheus (published on the machine's localhost) for its
targets, its rules and the last backup's metrics. With --wait it first gives
every target time to be scraped once and the first backup time to be
published. With --secrets-inventory it also searches every host's journal
and /var/log for every secret of that inventory's vault (the test harness's
secret_scan). Exits 1 when a target is down, a rule fails, the last backup
did not succeed or a secret was found in a log.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "harness"))
import secret_scan  # noqa: E402


# Prometheus's basic-auth login (the shared inventory turns it on), set by main().
CREDENTIALS: dict = {}


def get(base: str, path: str, **params) -> dict:
    url = f"{base}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    request = urllib.request.Request(url)
    if CREDENTIALS:
        token = base64.b64encode(f"{CREDENTIALS['user']}:{CREDENTIALS['password']}".encode()).decode()
        request.add_header("Authorization", "Basic " + token)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (a local http URL)
        return json.load(response)


def query(prometheus: str, expression: str) -> list:
    return get(prometheus, "/api/v1/query", query=expression)["data"]["result"]


def targets(prometheus: str) -> list:
    return get(prometheus, "/api/v1/targets", state="active")["data"]["activeTargets"]


def rules(prometheus: str) -> list:
    groups = get(prometheus, "/api/v1/rules")["data"]["groups"]
    return [rule for group in groups for rule in group["rules"]]


def last_backup(prometheus: str) -> str | None:
    """'succeeded 40 s ago' or 'FAILED ...', per database; None before the first one is scraped."""
    runs = query(prometheus, "dataaggregator_backup_last_run_success")
    if not runs:
        return None
    successes = {sample["metric"].get("database", "?"): float(sample["value"][1])
                 for sample in query(prometheus, "dataaggregator_backup_last_success_timestamp_seconds")}
    parts = []
    for sample in runs:
        database = sample["metric"].get("database", "?")
        if sample["value"][1] == "1" and database in successes:
            parts.append(f"{database} succeeded {int(time.time() - successes[database])} s ago")
        else:
            parts.append(f"{database} FAILED")
    return ", ".join(sorted(parts))


def wait(prometheus: str, seconds: float) -> None:
    """Until every target was scraped once and the first backup is published, or the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            scraped = all(target["health"] != "unknown" for target in targets(prometheus))
            if scraped and last_backup(prometheus) is not None and all(t["health"] == "up" for t in targets(prometheus)):
                return
        except OSError:
            pass  # Prometheus is still starting
        time.sleep(3)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--alertmanager", default="http://127.0.0.1:9093")
    parser.add_argument("--grafana", default="", help="empty: no real Grafana in this sandbox")
    parser.add_argument("--user", default="prometheus", help="basic-auth user of Prometheus and Alertmanager")
    parser.add_argument("--password", default="", help="its password; empty: no login")
    parser.add_argument("--grafana-user", default="admin")
    parser.add_argument("--grafana-password", default="")
    parser.add_argument("--wait", action="store_true", help="give targets and the first backup up to 3 minutes")
    parser.add_argument("--secrets-inventory", default="",
                        help="search every host of this inventory (containers) for its vault's secrets in their logs")
    args = parser.parse_args(argv)
    if args.password:
        CREDENTIALS.update(user=args.user, password=args.password)
    if args.wait:
        wait(args.prometheus, 180)

    active = targets(args.prometheus)
    down = sorted(f"{t['labels'].get('job')}/{t['labels'].get('instance')}" for t in active if t["health"] != "up")
    loaded = rules(args.prometheus)
    failing = [rule["name"] for rule in loaded if rule.get("health") != "ok"]
    backup = last_backup(args.prometheus)
    leaks = None
    if args.secrets_inventory:
        hostvars = secret_scan.inventory_hostvars(args.secrets_inventory)
        secrets = secret_scan.inventory_secrets(hostvars)
        findings, places = secret_scan.scan(hostvars, secrets)
        leaks = (findings, len(secrets), places)

    print("\nThe Data Aggregator sandbox")
    login = f"(user {args.user}, password {args.password})" if args.password else "(no login)"
    print(f"  Prometheus     {args.prometheus.replace('127.0.0.1', 'localhost')}   {login}")
    print(f"  Alertmanager   {args.alertmanager.replace('127.0.0.1', 'localhost')}   {login}")
    if args.grafana:
        print(f"  Grafana        {args.grafana.replace('127.0.0.1', 'localhost')}   "
              f"(user {args.grafana_user}, password {args.grafana_password})")
    else:
        print("  Grafana        not in this sandbox: no real Grafana artifact was supplied (DA_REAL_ARTIFACTS)")
    print("  Notifications  docker exec da-sandbox-app tail -f /var/lib/receivers/records.jsonl")
    print("  Make an alert fire   sandbox/sandbox.sh fault errors   (BackendHighErrorRate after its 5 minutes)")
    print("  Secrets        ansible-vault view --vault-password-file .cache/sandbox/vault-password "
          "inventories/sandbox/group_vars/all/vault.yml")
    print(f"\nHealth: targets {len(active) - len(down)}/{len(active)} up"
          f" | rules {len(loaded)} loaded, {len(failing)} failing"
          f" | last backup: {backup or 'none yet'}"
          + (f" | secrets in logs: {len(leaks[0])} of {leaks[1]} found ({leaks[2]} journals and log files read)" if leaks else ""))
    if down:
        print(f"  down: {', '.join(down)}")
    if failing:
        print(f"  failing rules: {', '.join(sorted(set(failing)))}")
    for finding in (leaks[0] if leaks else []):
        print(f"  secret in a log: {finding.secret} in {finding.place}")
    healthy = not down and not failing and backup is not None and "FAILED" not in backup and not (leaks and leaks[0])
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
