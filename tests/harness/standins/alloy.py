"""OFFLINE STAND-IN for Grafana Alloy -- not Alloy.

No Alloy release can be downloaded on the machines that run this project's
tests, so the local artifact mirror serves this script, zipped under the name
of the upstream release binary. It exists only to exercise what the alloy
role does around the binary: download, checksum, unpack, user, groups, unit,
flags, config check, port, reloads and restarts. Like the real program it
takes the subcommands run and validate, refuses unknown flags, binds
--server.http.listen-addr, and answers /-/ready and /-/reload (which re-reads
the config). Its check is shallow on purpose: balanced braces and strings,
and top-level blocks that Alloy has. It reads and ships no logs: every other
path answers 404, so a check that needs Alloy's real behaviour cannot pass
against it. (The rendered configs are checked in depth by the unit tests,
against Alloy's grammar and component reference.)
"""

import re
import sys

from support import TextHandler, serve

VALUE_FLAGS = {"server.http.listen-addr", "storage.path", "stability.level", "server.http.ui-path-prefix",
               "server.http.memory-addr", "config.format", "cluster.node-name"}
BOOLEAN_FLAGS = {"disable-reporting", "cluster.enabled", "feature.community-components.enabled"}
# Top-level blocks: the components and config blocks a log pipeline uses.
KNOWN_BLOCKS = {"logging", "tracing", "http", "livedebugging", "local.file_match", "local.file", "loki.source.file",
                "loki.source.journal", "loki.source.api", "loki.process", "loki.relabel", "loki.write", "loki.echo",
                "discovery.relabel"}
CONFIG = {}


def parse(argv):
    """(subcommand, flags, path), as Alloy's command line takes them."""
    if not argv or argv[0] not in ("run", "validate", "--version", "-v"):
        sys.exit('Error: unknown command; the OFFLINE STAND-IN knows "run" and "validate"')
    if argv[0] in ("--version", "-v"):
        return "version", {}, None
    command, flags, paths, args = argv[0], {}, [], list(argv[1:])
    while args:
        arg = args.pop(0)
        match = re.fullmatch(r"--([A-Za-z0-9_.-]+)(?:=(.*))?", arg)
        if not match:
            paths.append(arg)
            continue
        name, value = match.groups()
        if name in BOOLEAN_FLAGS:
            flags[name] = value in (None, "true", "1")
        elif name in VALUE_FLAGS:
            flags[name] = value if value is not None else args.pop(0)
        else:
            sys.exit(f"Error: unknown flag: --{name}")
    if len(paths) != 1:
        sys.exit(f"Error: accepts 1 arg(s), received {len(paths)}")
    return command, flags, paths[0]


def check(path):
    """Nothing, or ValueError: an unknown top-level block, or braces or strings left open."""
    with open(path, encoding="utf-8") as config:
        text = config.read()
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        code = re.sub(r'"(\\.|[^"\\])*"', '""', line).split("//")[0]
        if code.count('"') % 2:
            raise ValueError(f"{path}:{number}: string literal not terminated")
        if depth == 0:
            header = re.match(r'^([A-Za-z_][A-Za-z0-9_.]*)\s*(""\s*)?\{', code)
            if code.strip() and not header:
                raise ValueError(f"{path}:{number}: expected a block at the top level")
            if header and header.group(1) not in KNOWN_BLOCKS:
                raise ValueError(f'{path}:{number}: unrecognized block name "{header.group(1)}"')
        depth += code.count("{") - code.count("}")
        if depth < 0:
            raise ValueError(f"{path}:{number}: unexpected '}}'")
    if depth:
        raise ValueError(f"{path}: a block is not closed")


def main():
    command, flags, path = parse(sys.argv[1:])
    if command == "version":
        print("alloy, version OFFLINE STAND-IN (not Alloy)")
        return
    CONFIG["path"] = path
    try:
        check(path)
    except (OSError, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
    if command == "validate":
        return
    host, port = flags.get("server.http.listen-addr", "127.0.0.1:12345").rsplit(":", 1)
    serve((host.strip("[]"), int(port)), Handler, f"Alloy OFFLINE STAND-IN listening on {host}:{port}")


class Handler(TextHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/-/ready":
            self.answer(200, "Alloy is ready.\n")
        elif self.path == "/-/reload":
            try:
                check(CONFIG["path"])
            except (OSError, ValueError) as exc:
                self.answer(400, f"error during the initial load: {exc}\n")
                return
            print("stand-in: config reload requested and re-read", flush=True)
            self.answer(200, "config reloaded\n")
        else:
            self.answer(404, "404 page not found (offline stand-in for Alloy: ships no logs)\n")

    do_POST = do_GET  # noqa: N815 (http.server's naming)


if __name__ == "__main__":
    main()
