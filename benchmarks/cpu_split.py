"""Where the CPU goes during one run of a benchmark playbook on kept containers.

    python benchmarks/provision.py --hosts 8 --suites six --repeat 1 --keep
    python benchmarks/cpu_split.py .cache/provision-XXXX six.yml

Re-runs the playbook of a kept benchmark work directory against its
containers and prints the CPU seconds spent by the controller (the playbook,
its workers and their `docker exec` clients), by containerd (with its shims
and runc, one process per remote execution), by dockerd, and inside the
containers (their cgroups), next to the wall time. On a machine where the
containers share the controller's cores, this says which side sets the pace.
"""

from __future__ import annotations

import glob
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(name: str) -> float:
    """CPU seconds of every process whose program is called name, with its reaped children."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            program = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
            if os.path.basename(program) == name:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += sum(int(value) for value in fields[11:15]) / TICKS  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            continue
    return total


def container_cpu(prefix: str) -> float:
    """CPU seconds used inside the containers whose names start with prefix (cgroup v2 cpu.stat)."""
    ids = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter", f"name={prefix}"],
                         capture_output=True, text=True, check=True).stdout.split()
    total = 0.0
    for container in ids:
        for path in glob.glob(f"/sys/fs/cgroup/**/*{container}*/cpu.stat", recursive=True):
            usage = [line for line in Path(path).read_text().splitlines() if line.startswith("usage_usec")]
            if usage:
                total += int(usage[0].split()[1]) / 1e6
                break
    return total


def snapshot(prefix: str) -> dict:
    return {
        "containerd (with shims and runc)": process_cpu("containerd") + process_cpu("containerd-shim-runc-v2"),
        "dockerd": process_cpu("dockerd"),
        "inside the containers": container_cpu(prefix),
    }


def main() -> None:
    workdir, playbook = Path(sys.argv[1]), sys.argv[2]
    prefix = sys.argv[3] if len(sys.argv) > 3 else "da-bench"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORKS=os.environ.get("ANSIBLE_FORKS", "8"))
    before, children_before, started = snapshot(prefix), resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    with (workdir / "cpu-split.log").open("w") as log:
        subprocess.run(["ansible-playbook", "-i", str(workdir / "hosts.yml"), str(workdir / playbook)],
                       env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    wall, children_after, after = time.time() - started, resource.getrusage(resource.RUSAGE_CHILDREN), snapshot(prefix)
    controller = (children_after.ru_utime - children_before.ru_utime) + (children_after.ru_stime - children_before.ru_stime)
    print(f"wall {wall:.1f} s on {os.cpu_count()} cores ({wall * os.cpu_count():.1f} CPU seconds available)")
    print(f"  controller (playbook, workers, docker exec clients): {controller:.1f} CPU s")
    for part, seconds in before.items():
        print(f"  {part}: {after[part] - seconds:.1f} CPU s")


if __name__ == "__main__":
    main()
