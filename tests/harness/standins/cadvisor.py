"""OFFLINE STAND-IN for cAdvisor -- not cAdvisor.

No cAdvisor release can be downloaded on the machines that run this project's
tests, so the local artifact mirror serves this script under the name of the
upstream release executable. It exists only to exercise what the exporters
role does around the binary: download, checksum, install, user, unit, flags,
port and restarts. Like the real program it parses Go-style flags and refuses
unknown ones, binds --listen_ip/--port and answers the readiness path
/healthz. It serves no metrics: /metrics and every other path answer 404, so
a check that needs cAdvisor's real behaviour cannot pass against it.
"""

import http.server
import re
import sys

# The flags the exporters role may pass, as cAdvisor names them (Go's flag
# package: one or two dashes, "-name=value" or "-name value").
BOOLEAN_FLAGS = {"docker_only", "store_container_labels", "logtostderr", "version", "allow_dynamic_housekeeping"}
VALUE_FLAGS = {
    "listen_ip", "port", "housekeeping_interval", "max_housekeeping_interval", "global_housekeeping_interval",
    "disable_metrics", "enable_metrics", "prometheus_endpoint", "whitelisted_container_labels",
    "raw_cgroup_prefix_whitelist", "storage_duration", "v",
}


def parse(argv):
    flags = {"listen_ip": "", "port": "8080", "prometheus_endpoint": "/metrics"}
    args = list(argv)
    while args:
        arg = args.pop(0)
        match = re.fullmatch(r"--?([A-Za-z0-9_.]+)(?:=(.*))?", arg)
        if not match:
            sys.exit(f"cadvisor stand-in: unexpected argument {arg!r}")
        name, value = match.group(1), match.group(2)
        if name in BOOLEAN_FLAGS:
            if value not in (None, "true", "false", "1", "0"):
                sys.exit(f'invalid boolean value "{value}" for -{name}')
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
    if not flags["port"].isdigit():
        sys.exit(f'invalid value "{flags["port"]}" for flag -port: parse error')
    return flags


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/healthz":
            self._answer(200, "ok")
        else:
            self._answer(404, "404 page not found (offline stand-in for cAdvisor: no metrics, no API)\n")

    def _answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    flags = parse(sys.argv[1:])
    if flags.get("version"):
        print("cAdvisor offline stand-in (not cAdvisor)")
        return
    address = (flags["listen_ip"], int(flags["port"]))
    server = http.server.ThreadingHTTPServer(address, Handler)
    print(f"cAdvisor OFFLINE STAND-IN listening on {flags['listen_ip'] or '*'}:{flags['port']}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
