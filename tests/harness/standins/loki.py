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

import sys

from support import TextHandler, parse_go_flags, read_blocks, serve

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


def main():
    flags = parse_go_flags(sys.argv[1:], BOOLEAN_FLAGS, VALUE_FLAGS, "loki", USAGE)
    if flags.get("version"):
        print("loki, version OFFLINE STAND-IN (not Loki)")
        return
    if "config.file" not in flags:
        sys.exit("loki stand-in: -config.file is required")
    try:
        top, server = read_blocks(flags["config.file"])
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
    serve(address, Handler, f"Loki OFFLINE STAND-IN listening on {address[0] or '*'}:{address[1]}")


class Handler(TextHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/ready":
            self.answer(200, "ready\n")
        else:
            self.answer(404, "404 page not found (offline stand-in for Loki: no push, no query API)\n")

    do_POST = do_GET  # noqa: N815 (http.server's naming)


if __name__ == "__main__":
    main()
