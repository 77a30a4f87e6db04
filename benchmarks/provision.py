"""Provisioning benchmark: first converge and idempotent re-run on fresh containers.

Run it through benchmarks/provision (or `make benchmark-provision`), which does
the test harness's set-up first. For each host count it starts fresh systemd
containers from the test image on the mirror's network, runs a playbook twice
and prints, per run: wall time, tasks per host (ok, changed, skipped), the
remote executions (`docker exec` calls counted from Docker's event log) and a
per-role breakdown. It ends with a summary table.

With --reference DIR (a checkout of prometheus-community/ansible, which this
repository never contains), each run of the six suite is followed, on fresh
containers of the same image, by the same six components installed by
prometheus.prometheus's roles from the same mirror, and the summary prints
this collection's times as ratios of the reference's, measured in the same
window. Without it, no ratio is printed: absolute times on these machines
drift by 2x from day to day, so a ratio to stored figures would mislead.

Suites:
  six     node, blackbox, postgres and redis exporters, Prometheus, Alertmanager
          on every host: the reference's six components, archive installs
          from the local mirror
  site    playbooks/site.yml with the sandbox's settings, hosts spread over
          the monitoring, database, cache and application roles
  growth  the idempotent re-run of one host as dashboards, alert rules and
          scrape targets grow tenfold or more
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
NETWORK = "da-molecule"
PREFIX = "da-bench"
IMAGE = os.environ.get("DA_IMAGE_REPO", "dataaggregator/molecule-debian") + ":12"
MIRROR = "http://da-artifact-mirror:8080"

# The mirror as the controller reaches it: prometheus.prometheus downloads
# on the controller and copies to the hosts.
CONTROLLER_MIRROR = "http://127.0.0.1:18080"

# Releases the mirror serves (Debian 12's builds repacked as upstream archives).
MIRROR_RELEASES = {
    "prometheus_install_method": "archive",
    "prometheus_version": "2.42.0",
    "prometheus_download_base_url": f"{MIRROR}/prometheus",
    "alertmanager_install_method": "archive",
    "alertmanager_version": "0.25.0",
    "alertmanager_download_base_url": f"{MIRROR}/alertmanager",
    "exporters_install_method": "archive",
    "exporters_node_version": "1.5.0",
    "exporters_node_download_base_url": f"{MIRROR}/node_exporter",
    "exporters_postgres_version": "0.11.1",
    "exporters_postgres_download_base_url": f"{MIRROR}/postgres_exporter",
    "exporters_redis_version": "1.45.0",
    "exporters_redis_download_base_url": f"{MIRROR}/redis_exporter",
    "exporters_blackbox_version": "0.23.0",
    "exporters_blackbox_download_base_url": f"{MIRROR}/blackbox_exporter",
}

SIX_VARS = {
    **MIRROR_RELEASES,
    # Benchmark-only values for a throwaway container.
    "exporters_postgres_data_source_name": "postgresql://bench:bench@127.0.0.1:5432/postgres?sslmode=disable",
    # No PostgreSQL runs in the benchmark's containers: no login to create.
    "exporters_postgres_login_manage": False,
    "exporters_redis_password": "bench",
    # Throwaway containers on a private network: listening on every address
    # without authentication, as the reference does by default.
    "exporters_listen_public": True,
    "prometheus_listen_public": True,
    "alertmanager_listen_public": True,
    "alertmanager_routing_policy": {
        "severities": [{"name": "critical", "channels": ["email"]}],
        "teams": [],
        "default": {"channels": ["email"], "email_to": ["nobody@example.org"]},
    },
    "alertmanager_smtp_smarthost": "127.0.0.1:25",
    "alertmanager_smtp_from": "alertmanager@example.org",
}

SIX_PLAYBOOK = """\
- name: The six components of the reference
  hosts: all
  gather_facts: false
  roles:
    - dataaggregator.infrastructure.exporters
    - dataaggregator.infrastructure.alertmanager
    - dataaggregator.infrastructure.prometheus
"""

# The same six components with prometheus.prometheus's roles, as its README
# applies them (facts gathered by the play).
REFERENCE_PLAYBOOK = """\
- name: The six components, by prometheus.prometheus
  hosts: all
  gather_facts: true
  roles:
    - prometheus.prometheus.node_exporter
    - prometheus.prometheus.blackbox_exporter
    - prometheus.prometheus.postgres_exporter
    - prometheus.prometheus.redis_exporter
    - prometheus.prometheus.alertmanager
    - prometheus.prometheus.prometheus
"""

GROWTH_PLAYBOOK = """\
- name: Prometheus and Grafana, growing
  hosts: all
  gather_facts: false
  roles:
    - dataaggregator.infrastructure.prometheus
    - dataaggregator.infrastructure.grafana
"""


def run(command, **kwargs):
    return subprocess.run(command, check=True, text=True, **kwargs)


def docker_names(prefix):
    out = run(["docker", "ps", "-aq", "--filter", f"name=^{prefix}-"], capture_output=True).stdout.split()
    return out


def remove_containers():
    ids = docker_names(PREFIX)
    if ids:
        run(["docker", "rm", "-f", *ids], capture_output=True)


def start_containers(count):
    """Fresh systemd containers, unprivileged (the Molecule recipe)."""
    remove_containers()
    names = [f"{PREFIX}-{index}" for index in range(1, count + 1)]
    for name in names:
        run(["docker", "run", "--detach", "--name", name, "--hostname", name, "--network", NETWORK,
             "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:ro", "--tmpfs", "/run", "--tmpfs", "/run/lock",
             IMAGE, "/lib/systemd/systemd"], capture_output=True)
    for name in names:
        wait_for_systemd(name)
    return names


def wait_for_systemd(name):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = subprocess.run(["docker", "exec", name, "systemctl", "is-system-running"],
                               capture_output=True, text=True, check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(1)
    sys.exit(f"{name}: systemd did not start")


def write_inventory(workdir, hosts, groups, variables):
    inventory = {"all": {"vars": {"ansible_connection": "community.docker.docker", **variables},
                         "children": {group: {"hosts": {host: None for host in members}}
                                      for group, members in groups.items()}}}
    path = workdir / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


class ExecutionCounter:
    """Remote executions per host: every module and command is one `docker exec`.

    Docker's event stream is read while the playbook runs (its history keeps
    only the last few hundred events, too few on a busy machine).
    """

    def __init__(self, workdir, label):
        self.path = workdir / f"{label}.execs"
        self.stream = self.path.open("w")
        self.process = subprocess.Popen(
            ["docker", "events", "--filter", "type=container", "--filter", "event=exec_start",
             "--format", "{{.Actor.Attributes.name}}"], stdout=self.stream, text=True)
        time.sleep(0.5)

    def stop(self, hosts):
        time.sleep(1)
        self.process.terminate()
        self.process.wait()
        self.stream.close()
        counts = collections.Counter(self.path.read_text().split())
        return {host: counts.get(host, 0) for host in hosts}


def ansible_playbook(workdir, inventory, playbook, label, extra_args=(), extra_env=None):
    stats_file = workdir / f"{label}.json"
    env = dict(os.environ, **(extra_env or {}),
               ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               ANSIBLE_CALLBACK_PLUGINS=str(REPO / "benchmarks" / "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="benchmark_stats",
               ANSIBLE_FORKS=os.environ.get("ANSIBLE_FORKS", "8"),
               BENCHMARK_STATS_FILE=str(stats_file))
    log = workdir / f"{label}.log"
    counter = ExecutionCounter(workdir, label)
    started = time.time()
    with log.open("w") as stream:
        completed = subprocess.run(["ansible-playbook", "-i", str(inventory), str(playbook), *extra_args],
                                   stdout=stream, stderr=subprocess.STDOUT, env=env, check=False)
    finished = time.time()
    executions = counter.stop(hosts_of(inventory))
    if completed.returncode != 0:
        sys.exit(f"{label}: ansible-playbook failed (rc {completed.returncode}); see {log}")
    return finished - started, executions, json.loads(stats_file.read_text())


def hosts_of(inventory):
    """The container names: the inventory's hosts."""
    names = subprocess.run(["ansible-inventory", "-i", str(inventory), "--list"], capture_output=True, text=True,
                           check=True, env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))).stdout
    return sorted(json.loads(names)["_meta"]["hostvars"])


def summarise(label, hosts, wall, executions, stats):
    per_host = {host: collections.Counter() for host in hosts}
    per_role = collections.defaultdict(float)
    for task in stats["tasks"]:
        per_role[task["role"] or "(play)"] += task["seconds"]
        for host, outcome in task["hosts"].items():
            if host in per_host:
                status = next((key for key in ("failed", "changed", "ok", "skipped") if outcome[key]), None)
                if status:
                    per_host[host][status] += 1
    first = hosts[0]
    result = {
        "label": label,
        "hosts": len(hosts),
        "wall": wall,
        "ok": per_host[first]["ok"],
        "changed": per_host[first]["changed"],
        "skipped": per_host[first]["skipped"],
        "tasks": per_host[first]["ok"] + per_host[first]["changed"],
        "executions": executions[first],
        "executions_all": sum(executions.values()),
        "roles": dict(sorted(per_role.items(), key=lambda item: -item[1])),
    }
    print(f"\n{label}: {result['wall']:.1f} s wall, {len(hosts)} host(s)")
    print(f"  tasks on {first}: {result['tasks']} run (ok {result['ok']}, changed {result['changed']}),"
          f" {result['skipped']} skipped")
    print(f"  remote executions on {first}: {result['executions']} (all hosts: {result['executions_all']})")
    print("  per role: " + ", ".join(f"{role} {seconds:.1f} s" for role, seconds in result["roles"].items()))
    return result


def converge_twice(workdir, inventory, playbook, label, hosts, extra_env=None):
    results = []
    for phase in ("first", "idempotent"):
        run_label = f"{label}-{phase}-{len(list(workdir.glob(f'{label}-{phase}*.json'))) + 1}"
        results.append(summarise(f"{label} {phase}", hosts,
                                 *ansible_playbook(workdir, inventory, playbook, run_label, extra_env=extra_env)))
    if results[1]["changed"]:
        sys.exit(f"{label}: the re-run changed {results[1]['changed']} tasks; it must change none")
    return results


# Debian's alertmanager build reads its default templates from the package's
# files, which the repacked archive lacks (upstream releases embed them): the
# same preparation as the alerting scenario's, before the clock starts.
ALERTMANAGER_TEMPLATES = (
    "set -o errexit -o pipefail; cd /tmp; apt-get update -qq; apt-get download -qq prometheus-alertmanager;"
    " dpkg-deb --fsys-tarfile prometheus-alertmanager_*.deb | tar -x -C / ./usr/share/prometheus/alertmanager;"
    " rm -f prometheus-alertmanager_*.deb"
)


def suite_six(workdir, count):
    hosts = start_containers(count)
    preparing = [subprocess.Popen(["docker", "exec", host, "bash", "-c", ALERTMANAGER_TEMPLATES],
                                  stdout=subprocess.DEVNULL) for host in hosts]
    if any(process.wait() for process in preparing):
        sys.exit("could not extract Alertmanager's default templates from Debian's package")
    inventory = write_inventory(workdir, hosts,
                                {group: hosts for group in ("prometheus", "alertmanager", "postgres", "redis")},
                                SIX_VARS)
    playbook = workdir / "six.yml"
    playbook.write_text(SIX_PLAYBOOK)
    return converge_twice(workdir, inventory, playbook, f"six x{count}", hosts)


def reference_variables(cache):
    """prometheus.prometheus's variables for the releases the mirror serves, each download cached under cache."""
    variables = {"ansible_become": False}
    for program, version_key, archive in (
            ("node_exporter", "exporters_node_version", "node_exporter-{v}.linux-amd64.tar.gz"),
            ("blackbox_exporter", "exporters_blackbox_version", "blackbox_exporter-{v}.linux-amd64.tar.gz"),
            ("postgres_exporter", "exporters_postgres_version", "postgres_exporter-{v}.linux-amd64.tar.gz"),
            ("redis_exporter", "exporters_redis_version", "redis_exporter-v{v}.linux-amd64.tar.gz"),
            ("alertmanager", "alertmanager_version", "alertmanager-{v}.linux-amd64.tar.gz"),
            ("prometheus", "prometheus_version", "prometheus-{v}.linux-amd64.tar.gz")):
        version = MIRROR_RELEASES[version_key]
        base = f"{CONTROLLER_MIRROR}/{program}/v{version}"
        variables |= {f"{program}_version": version,
                      f"{program}_binary_url": f"{base}/{archive.format(v=version)}",
                      f"{program}_checksums_url": f"{base}/sha256sums.txt",
                      f"{program}_local_cache_path": str(cache / program / version)}
    # The same routing as this collection's six suite: every alert by e-mail to one address.
    variables |= {"alertmanager_smtp": {"smarthost": SIX_VARS["alertmanager_smtp_smarthost"],
                                        "from": SIX_VARS["alertmanager_smtp_from"]},
                  "alertmanager_receivers": [{"name": "email", "email_configs": [{"to": "nobody@example.org"}]}],
                  "alertmanager_route": {"receiver": "email", "group_by": ["alertname"]}}
    variables |= {"postgres_exporter_uri": "127.0.0.1:5432/postgres?sslmode=disable",
                  "postgres_exporter_username": "bench", "postgres_exporter_password": "bench",
                  "redis_exporter_addr": "redis://127.0.0.1:6379", "redis_exporter_password": "bench"}
    return variables


def suite_reference(workdir, count, reference):
    """The six components by prometheus.prometheus (a checkout at reference), on fresh containers."""
    collections_dir = workdir / "reference-collections" / "ansible_collections" / "prometheus"
    if not collections_dir.exists():
        collections_dir.mkdir(parents=True)
        (collections_dir / "prometheus").symlink_to(reference.resolve())
    hosts = start_containers(count)
    # The reference's Prometheus and Alertmanager units set PrivateUsers=true,
    # which an unprivileged container cannot grant (the service then dies at
    # every start with status 217/USER). A drop-in takes that one setting back,
    # before the clock starts.
    for host in hosts:
        run(["docker", "exec", host, "sh", "-c",
             "for unit in prometheus alertmanager; do mkdir -p /etc/systemd/system/$unit.service.d"
             " && printf '[Service]\\nPrivateUsers=no\\n' > /etc/systemd/system/$unit.service.d/container.conf; done"],
            capture_output=True)
    cache = Path(tempfile.mkdtemp(prefix="reference-cache-", dir=workdir))
    # The reference copies Prometheus 2.x's console templates out of the
    # archive; Debian's build, which the mirror repacks, has none.
    for directory in ("consoles", "console_libraries"):
        (cache / "prometheus" / MIRROR_RELEASES["prometheus_version"] / directory).mkdir(parents=True)
    inventory = write_inventory(workdir, hosts, {"reference": hosts}, reference_variables(cache))
    playbook = workdir / "reference.yml"
    playbook.write_text(REFERENCE_PLAYBOOK)
    # The reference first, then this collection's path (community.general comes with the ansible package).
    env = {"ANSIBLE_COLLECTIONS_PATH": f"{workdir / 'reference-collections'}:{REPO / '.collections'}"}
    return converge_twice(workdir, inventory, playbook, f"reference x{count}", hosts, extra_env=env)


def site_layout(hosts):
    """Spread the hosts over the monitoring, database, cache and application roles."""
    shapes = ["monitor", "db", "cache", "app"]
    groups = {"sandbox": hosts, "prometheus": [], "alertmanager": [], "monitoring": [], "postgres": [],
              "redis": [], "backend": [], "frontend": []}
    for index, host in enumerate(hosts):
        for shape in shapes if len(hosts) == 1 else [shapes[index % len(shapes)]]:
            member_of = {"monitor": ["prometheus", "alertmanager", "monitoring"], "db": ["postgres"],
                         "cache": ["redis"], "app": ["backend", "frontend"]}[shape]
            for group in member_of:
                groups[group].append(host)
    return groups


def suite_site(workdir, count):
    hosts = start_containers(count)
    groups = site_layout(hosts)
    inventory_dir = workdir / "site-inventory"
    inventory_dir.mkdir()
    groups_yaml = {group: {"hosts": {host: None for host in members}} for group, members in groups.items()}
    groups_yaml["platform"] = {"children": {"backend": None, "frontend": None, "postgres": None, "redis": None}}
    (inventory_dir / "hosts.yml").write_text(yaml.safe_dump(
        {"all": {"vars": {"ansible_connection": "community.docker.docker"}, "children": groups_yaml}}, sort_keys=False))
    # The sandbox's settings and secrets, as the full-stack scenario uses them.
    group_vars = inventory_dir / "group_vars"
    (group_vars / "all").mkdir(parents=True)
    for name in ("main.yml", "contacts.yml"):
        shutil.copy(REPO / "inventories/sandbox/group_vars/all" / name, group_vars / "all" / name)
    shutil.copy(REPO / "inventories/shared/all.yml", group_vars / "all/shared.yml")
    shutil.copy(REPO / "inventories/sandbox/group_vars/sandbox.yml", group_vars / "sandbox.yml")
    shutil.copy(REPO / "inventories/sandbox/group_vars/redis.yml", group_vars / "redis.yml")
    password_file = workdir / "vault-password"
    run([str(REPO / "sandbox/secrets.sh"), str(group_vars / "all/vault.yml"), str(password_file),
         groups["backend"][0]], capture_output=True)
    os.environ["ANSIBLE_VAULT_PASSWORD_FILE"] = str(password_file)
    ansible_playbook(workdir, inventory_dir, REPO / "sandbox/platform.yml", f"site x{count} platform")
    return converge_twice(workdir, inventory_dir, REPO / "playbooks/site.yml", f"site x{count}", hosts)


def growth_files(workdir, dashboards, rules):
    """Extra dashboards and rule files, so that the totals reach the given counts."""
    shipped_rules = sum(len(group["rules"]) for path in (REPO / "roles/prometheus/files/rules").glob("*.yml")
                        for group in yaml.safe_load(path.read_text())["groups"])
    rule_dir = workdir / f"rules-{rules}"
    rule_dir.mkdir(exist_ok=True)
    extra_rules = max(rules - shipped_rules, 0)
    rule_files = []
    for start in range(0, extra_rules, 20):
        path = rule_dir / f"growth-{start:04d}.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": f"growth-{start}", "rules": [
            {"alert": f"Growth{number}", "expr": f'up{{job="growth-{number}"}} == 0', "for": "5m",
             "labels": {"severity": "warning"}, "annotations": {"summary": f"growth rule {number}"}}
            for number in range(start, min(start + 20, extra_rules))]}]}))
        rule_files.append(str(path))
    dashboard_dir = workdir / f"dashboards-{dashboards}"
    dashboard_dir.mkdir(exist_ok=True)
    shipped = yaml.safe_load((REPO / "roles/grafana/defaults/main.yml").read_text())["grafana_dashboards"]
    template = yaml.safe_load((REPO / "roles/grafana/files" / shipped[0]["src"]).read_text())
    extra_dashboards = []
    for number in range(max(dashboards - len(shipped), 0)):
        spec = dict(template, uid=f"growth-{number:03d}", title=f"Growth {number}")
        path = dashboard_dir / f"growth-{number:03d}.yml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        extra_dashboards.append({"src": str(path), "folder": f"Growth {number % 5}"})
    return rule_files, extra_dashboards


def suite_growth(workdir, repeat):
    hosts = start_containers(1)
    results = []
    small_targets = [f"http://target-{number}.example.org/" for number in range(10)]
    large_targets = [f"http://target-{number}.example.org/" for number in range(500)]
    steps = [("baseline", 10, 40, small_targets), ("dashboards x10", 100, 40, small_targets),
             ("rules x10", 10, 400, small_targets), ("targets x50", 10, 40, large_targets)]
    playbook = workdir / "growth.yml"
    playbook.write_text(GROWTH_PLAYBOOK)
    for label, dashboards, rules, targets in steps:
        rule_files, extra_dashboards = growth_files(workdir, dashboards, rules)
        variables = {**MIRROR_RELEASES,
                     "prometheus_rule_files_extra": rule_files,
                     "prometheus_blackbox_http_targets": targets,
                     "grafana_dashboards_extra": extra_dashboards,
                     # The mirror's offline stand-in: these runs measure Ansible's cost only.
                     "grafana_download_base_url": f"{MIRROR}/grafana",
                     "grafana_admin_password": "bench-admin-password",
                     "grafana_secret_key": "bench-secret-key"}
        inventory = write_inventory(workdir, hosts, {"prometheus": hosts, "grafana": hosts}, variables)
        name = f"growth {label}"
        ansible_playbook(workdir, inventory, playbook, f"{name}-converge")
        for attempt in range(1, repeat + 1):
            result = summarise(f"{name} idempotent", hosts,
                               *ansible_playbook(workdir, inventory, playbook, f"{name}-idempotent-{attempt}"))
            if result["changed"]:
                sys.exit(f"{name}: the re-run changed {result['changed']} tasks; it must change none")
            results.append(result)
    return results


def medians(results):
    """One result per label: the run with the median wall time, and every run's wall time."""
    by_label = {}
    for result in results:
        by_label.setdefault(result["label"], []).append(result)
    summary = []
    for runs in by_label.values():
        ordered = sorted(runs, key=lambda result: result["wall"])
        summary.append(dict(ordered[(len(ordered) - 1) // 2], runs=[result["wall"] for result in runs]))
    return summary


def print_summary(results):
    results = medians(results)
    print("\n## Summary (median of the runs)\n")
    print("| run | hosts | wall s (median) | runs s | tasks/host (changed) | skipped | remote execs/host |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        runs = " / ".join(f"{wall:.1f}" for wall in result["runs"])
        print(f"| {result['label']} | {result['hosts']} | {result['wall']:.1f} | {runs} | {result['tasks']} ({result['changed']})"
              f" | {result['skipped']} | {result['executions']} |")
    by_label = {result["label"]: result for result in results}
    print()
    for phase in ("first", "idempotent"):
        for count in (1, 4, 8):
            ours, theirs = by_label.get(f"six x{count} {phase}"), by_label.get(f"reference x{count} {phase}")
            if ours and theirs:
                print(f"six x{count} {phase}: {ours['wall']:.1f} s against prometheus.prometheus's {theirs['wall']:.1f} s"
                      f" in the same window = {ours['wall'] / theirs['wall']:.2f}x the time;"
                      f" remote executions per host {ours['executions']} against {theirs['executions']},"
                      f" tasks per host {ours['tasks'] + ours['skipped']} against {theirs['tasks'] + theirs['skipped']}")
            elif ours:
                print(f"six x{count} {phase}: {ours['wall']:.1f} s; no ratio measured"
                      " (give --reference DIR, a checkout of prometheus-community/ansible)")
        one, eight = by_label.get(f"six x1 {phase}"), by_label.get(f"six x8 {phase}")
        if one and eight:
            print(f"six x8 / x1 {phase}: {eight['wall'] / one['wall']:.2f}")
    baseline = by_label.get("growth baseline idempotent")
    if baseline:
        for label in ("dashboards x10", "rules x10", "targets x50"):
            grown = by_label.get(f"growth {label} idempotent")
            if grown:
                print(f"growth {label}: {grown['wall'] / baseline['wall']:.2f} of the baseline's re-run")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", default="1,4,8", help="host counts, comma-separated (default 1,4,8)")
    parser.add_argument("--suites", default="six,site,growth", help="six, site, growth (default all three)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per measurement, each six and site run on fresh containers (default 3)")
    parser.add_argument("--keep", action="store_true", help="leave the last containers running")
    parser.add_argument("--reference", type=Path, metavar="DIR",
                        help="a checkout of prometheus-community/ansible: run its six roles after each six run,"
                             " in the same window, and print the ratios")
    args = parser.parse_args()
    if args.reference and not (args.reference / "roles" / "node_exporter").is_dir():
        parser.error(f"--reference {args.reference}: not a checkout of prometheus-community/ansible (no roles/node_exporter)")
    counts = [int(value) for value in args.hosts.split(",")]
    suites = args.suites.split(",")
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="provision-", dir=REPO / ".cache"))
    print(f"logs and per-task timings: {workdir}")
    try:
        for count in counts:
            for attempt in range(1, args.repeat + 1):
                if "six" in suites:
                    print(f"\n# six components on {count} host(s), run {attempt} of {args.repeat}")
                    results += suite_six(workdir, count)
                    if args.reference:
                        print(f"\n# prometheus.prometheus's six components on {count} host(s), run {attempt} of {args.repeat}")
                        results += suite_reference(workdir, count, args.reference)
        for count in counts:
            for attempt in range(1, args.repeat + 1):
                if "site" in suites:
                    print(f"\n# site.yml on {count} host(s), run {attempt} of {args.repeat}")
                    site_dir = workdir / f"site-{count}-{attempt}"
                    site_dir.mkdir()
                    results += suite_site(site_dir, count)
        if "growth" in suites:
            results += suite_growth(workdir, args.repeat)
    finally:
        if not args.keep:
            remove_containers()
        print_summary(results)


if __name__ == "__main__":
    main()
