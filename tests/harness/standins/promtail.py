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

import sys

from support import TextHandler, parse_go_flags, read_blocks, serve

BOOLEAN_FLAGS = {"check-syntax", "config.expand-env", "version", "dry-run", "print-config-stderr"}
VALUE_FLAGS = {"config.file", "log.level"}
# Top-level blocks of Promtail's configuration reference.
KNOWN_BLOCKS = {"server", "clients", "positions", "scrape_configs", "limits_config", "target_config", "options", "tracing", "global"}
CONFIG = {}


def check(path):
    """The server block's scalars, or ValueError naming the first unknown top-level key."""
    top, server = read_blocks(path)
    unknown = [key for key in top if key not in KNOWN_BLOCKS]
    if unknown:
        raise ValueError(f"field {unknown[0]} not found in type config.Config")
    return server


def main():
    flags = parse_go_flags(sys.argv[1:], BOOLEAN_FLAGS, VALUE_FLAGS, "promtail")
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
    serve(address, Handler, f"Promtail OFFLINE STAND-IN listening on {address[0] or '*'}:{address[1]}")


class Handler(TextHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/ready":
            self.answer(200, "Ready")
        elif self.path == "/reload":
            try:
                check(CONFIG["path"])
            except (OSError, ValueError) as exc:
                self.answer(500, f"failed to reload config: {exc}\n")
                return
            print("stand-in: config reload requested and re-read", flush=True)
            self.answer(200, "")
        else:
            self.answer(404, "404 page not found (offline stand-in for Promtail: ships no logs)\n")

    do_POST = do_GET  # noqa: N815 (http.server's naming)


if __name__ == "__main__":
    main()
