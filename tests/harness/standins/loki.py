"""OFFLINE STAND-IN for Grafana Loki -- not Loki.

No Loki release can be downloaded on the machines that run this project's
tests, so the local artifact mirror serves this script, zipped under the name
of the upstream release binary. It exists only to exercise what the loki role
does around the binary: download, checksum, unpack, user, unit, flags, config
check, port and restarts. Like the real program it parses Go-style flags and
refuses unknown ones, reads -config.file, binds the config's
server.http_listen_address and http_listen_port, and answers the readiness
path /ready. -verify-config only checks that the file's top-level keys are
blocks Loki knows (Loki also refuses unknown fields). It stores and serves no
logs: every other path answers 404, so a check that needs Loki's real
behaviour cannot pass against it.
"""

import http.server
import re
import sys

BOOLEAN_FLAGS = {"verify-config", "config.expand-env", "version", "print-config-stderr", "log-config-reverse-order"}
VALUE_FLAGS = {"config.file", "target", "log.level"}
# Top-level blocks of Loki 3.x's configuration reference.
KNOWN_BLOCKS = {
    "target", "auth_enabled", "ballast_bytes", "shutdown_delay", "use_buffered_logger", "use_sync_logger",
    "server", "distributor", "querier", "query_scheduler", "frontend", "query_range", "ruler", "ruler_storage",
    "ingester_client", "ingester", "block_builder", "block_scheduler", "pattern_ingester", "index_gateway",
    "bloom_build", "bloom_gateway", "storage_config", "chunk_store_config", "schema_config", "compactor",
    "compactor_grpc_client", "compactor_http_client", "limits_config", "frontend_worker", "table_manager",
    "memberlist", "kafka_config", "dataobj", "runtime_config", "operational_config", "tracing", "analytics",
    "profiling", "common", "ui", "distributor_ring", "ingest_limits", "ingest_limits_frontend",
}
USAGE = """Usage of loki (OFFLINE STAND-IN, not Loki):
  -config.file string
    \tyaml file to load
  -config.expand-env
    \tExpands ${var} in config according to the values of the environment variables.
  -verify-config
    \tVerify config file and exits
  -version
    \tPrint this program's version information
"""


def parse(argv):
    flags = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "-help", "--help"):
            print(USAGE)
            sys.exit(0)
        match = re.fullmatch(r"--?([A-Za-z0-9_.-]+)(?:=(.*))?", arg)
        if not match:
            sys.exit(f"loki stand-in: unexpected argument {arg!r}")
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


def read_config(path):
    """Top-level keys and the server block's scalars of a block-style YAML file."""
    top, server, block = [], {}, None
    with open(path, encoding="utf-8") as config:
        for line in config:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            match = re.match(r"^([A-Za-z0-9_]+):(.*)$", line.rstrip("\n"))
            if match:
                block = match.group(1)
                top.append(block)
                continue
            nested = re.match(r"^  ([A-Za-z0-9_]+): *(.*)$", line.rstrip("\n"))
            if block == "server" and nested:
                server[nested.group(1)] = nested.group(2).strip().strip("'\"")
    return top, server


def main():
    flags = parse(sys.argv[1:])
    if flags.get("version"):
        print("loki, version OFFLINE STAND-IN (not Loki)")
        return
    if "config.file" not in flags:
        sys.exit("loki stand-in: -config.file is required")
    try:
        top, server = read_config(flags["config.file"])
    except OSError as exc:
        sys.exit(f"failed parsing config: {exc}")
    unknown = [key for key in top if key not in KNOWN_BLOCKS]
    if unknown:
        print(f"failed parsing config: {flags['config.file']}: yaml: unmarshal errors: field {unknown[0]} not found",
              file=sys.stderr)
        sys.exit(1)
    if flags.get("verify-config"):
        print("config is valid (checked by the OFFLINE STAND-IN: top-level blocks only)", file=sys.stderr)
        return
    address = (server.get("http_listen_address", ""), int(server.get("http_listen_port", "3100")))
    httpd = http.server.ThreadingHTTPServer(address, Handler)
    print(f"Loki OFFLINE STAND-IN listening on {address[0] or '*'}:{address[1]}", flush=True)
    httpd.serve_forever()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/ready":
            self._answer(200, "ready\n")
        else:
            self._answer(404, "404 page not found (offline stand-in for Loki: no push, no query API)\n")

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
