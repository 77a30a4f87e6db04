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

import sys

from support import TextHandler, parse_go_flags, serve

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
    flags.update(parse_go_flags(argv, BOOLEAN_FLAGS, VALUE_FLAGS, "cadvisor"))
    if not flags["port"].isdigit():
        sys.exit(f'invalid value "{flags["port"]}" for flag -port: parse error')
    return flags


class Handler(TextHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/healthz":
            self.answer(200, "ok")
        else:
            self.answer(404, "404 page not found (offline stand-in for cAdvisor: no metrics, no API)\n")


def main():
    flags = parse(sys.argv[1:])
    if flags.get("version"):
        print("cAdvisor offline stand-in (not cAdvisor)")
        return
    address = (flags["listen_ip"], int(flags["port"]))
    serve(address, Handler, f"cAdvisor OFFLINE STAND-IN listening on {flags['listen_ip'] or '*'}:{flags['port']}")


if __name__ == "__main__":
    main()
