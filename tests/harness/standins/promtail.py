"""OFFLINE STAND-IN for Promtail -- not Promtail.

No Promtail release can be downloaded on the machines that run this project's
tests, so the local artifact mirror serves this script, zipped under the name
of the upstream release binary. It exists only to exercise what the promtail
role does around the binary: download, checksum, unpack, user, groups, unit,
flags, config check, port, reloads and restarts. Like the real program it
parses Go-style flags and refuses unknown ones, reads -config.file, binds the
config's server.http_listen_address and http_listen_port, and answers /ready
and /reload (which re-reads the config). -check-syntax only checks that the
file's top-level keys are blocks Promtail knows. It reads and ships no logs:
every other path answers 404, so a check that needs Promtail's real
behaviour cannot pass against it.
"""

import http.server
import re
import sys

BOOLEAN_FLAGS = {"check-syntax", "config.expand-env", "version", "dry-run", "print-config-stderr"}
VALUE_FLAGS = {"config.file", "log.level"}
# Top-level blocks of Promtail's configuration reference.
KNOWN_BLOCKS = {"server", "clients", "positions", "scrape_configs", "limits_config", "target_config", "options", "tracing", "global"}
CONFIG = {}


def parse(argv):
    flags = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        match = re.fullmatch(r"--?([A-Za-z0-9_.-]+)(?:=(.*))?", arg)
        if not match:
            sys.exit(f"promtail stand-in: unexpected argument {arg!r}")
        name, value = match.group(1), match.group(2)
        if name in BOOLEAN_FLAGS:
            flags[name] = value in (None, "true", "1")
        elif name in VALUE_FLAGS:
            if value is None:
                if not args:
                    sys.exit(f"flag needs an argument: -{name}")
                value = args.pop(0)
            flags[name] = value
        else:
            print(f"flag provided but not defined: -{name}", file=sys.stderr)
            sys.exit(2)
    return flags


def check(path):
    """The server block's scalars, or an error naming the first unknown top-level key."""
    server, block = {}, None
    with open(path, encoding="utf-8") as config:
        for line in config:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            match = re.match(r"^([A-Za-z0-9_]+):(.*)$", line.rstrip("\n"))
            if match:
                block = match.group(1)
                if block not in KNOWN_BLOCKS:
                    raise ValueError(f"field {block} not found in type config.Config")
                continue
            nested = re.match(r"^  ([A-Za-z0-9_]+): *(.*)$", line.rstrip("\n"))
            if block == "server" and nested:
                server[nested.group(1)] = nested.group(2).strip().strip("'\"")
    return server


def main():
    flags = parse(sys.argv[1:])
    if flags.get("version"):
        print("promtail, version OFFLINE STAND-IN (not Promtail)")
        return
    if "config.file" not in flags:
        sys.exit("promtail stand-in: -config.file is required")
    CONFIG["path"] = flags["config.file"]
    try:
        server = check(CONFIG["path"])
    except (OSError, ValueError) as exc:
        print(f"Invalid config file: {exc}", file=sys.stderr)
        sys.exit(1)
    if flags.get("check-syntax"):
        print("Valid config file! No syntax issues found (checked by the OFFLINE STAND-IN: top-level blocks only)")
        return
    address = (server.get("http_listen_address", ""), int(server.get("http_listen_port", "9080")))
    httpd = http.server.ThreadingHTTPServer(address, Handler)
    print(f"Promtail OFFLINE STAND-IN listening on {address[0] or '*'}:{address[1]}", flush=True)
    httpd.serve_forever()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/ready":
            self._answer(200, "Ready")
        elif self.path == "/reload":
            try:
                check(CONFIG["path"])
            except (OSError, ValueError) as exc:
                self._answer(500, f"failed to reload config: {exc}\n")
                return
            print("stand-in: config reload requested and re-read", flush=True)
            self._answer(200, "")
        else:
            self._answer(404, "404 page not found (offline stand-in for Promtail: ships no logs)\n")

    do_POST = do_GET  # noqa: N815 (http.server's naming)

    def _answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    main()
