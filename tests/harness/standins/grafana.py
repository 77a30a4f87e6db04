"""OFFLINE STAND-IN for Grafana -- not Grafana.

No Grafana release can be downloaded on the machines that run this project's
tests, so the local artifact mirror packs this script as bin/grafana into a
release-shaped archive. It exists only to exercise what the grafana role does
around the program: download, checksum, unpack, user, unit, config, secrets,
TLS files, handlers and idempotence.

Like the real program it takes "grafana server --config=... --homepath=..."
and refuses unknown flags, needs <homepath>/conf/defaults.ini, reads the INI
config and expands $__file{} and $__env{} in it (so an unreadable secret file
fails the start, as it would for Grafana), writes to the data directory, and
binds [server] http_addr:http_port, with TLS when the protocol is https.

It answers the readiness path /api/health, and the two provisioning reload
endpoints the role's handlers call, only with the admin credentials of the
config. It knows nothing of datasources, dashboards, users or queries: every
other path answers 404, so a check of Grafana's real behaviour cannot pass
against it. "grafana cli admin reset-admin-password" checks its arguments and
reads the password, and changes nothing.
"""

import base64
import configparser
import http.server
import json
import os
import re
import signal
import ssl
import sys

VERSION = "offline-stand-in"
SERVER_FLAGS = {"config", "homepath", "pidfile", "packaging", "configOverrides", "profile", "profile-addr", "profile-port", "tracing", "tracing-file"}
CLI_FLAGS = {"config", "homepath", "configOverrides"}
EXPANDER = re.compile(r"\$__(file|env)\{([^}]*)\}")


def fail(message, code=1):
    print(message, file=sys.stderr, flush=True)
    sys.exit(code)


def parse_flags(args, known):
    """urfave/cli style: --name=value or --name value; the rest is positional."""
    flags, rest = {}, []
    while args:
        arg = args.pop(0)
        match = re.fullmatch(r"--?([A-Za-z][A-Za-z0-9_.-]*)(?:=(.*))?", arg)
        if not match:
            rest.append(arg)
            continue
        name, value = match.group(1), match.group(2)
        if name not in known:
            rest.append(arg)
            continue
        if value is None:
            if not args:
                fail(f"Incorrect Usage: flag needs an argument: -{name}")
            value = args.pop(0)
        flags[name] = value
    return flags, rest


def expand(value):
    def replace(match):
        kind, argument = match.groups()
        if kind == "env":
            return os.environ.get(argument, "")
        try:
            with open(argument, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:
            fail(f"Grafana stand-in: failed to expand $__file{{{argument}}}: {exc}")
        return ""

    return EXPANDER.sub(replace, value)


def load_config(flags):
    homepath = flags.get("homepath") or os.getcwd()
    defaults = os.path.join(homepath, "conf", "defaults.ini")
    if not os.path.isfile(defaults):
        fail("Grafana-server Init Failed: Could not find config defaults, make sure homepath command line parameter is set")
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    for path in (defaults, flags.get("config")):
        if not path:
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                # Keys before the first section belong to no section in Grafana's INI.
                parser.read_string("[__root__]\n" + handle.read(), source=path)
        except (OSError, configparser.Error) as exc:
            fail(f"Grafana stand-in: failed to parse {path}: {exc}")

    def get(section, key, default=""):
        return expand(parser.get(section, key, fallback=default)).strip()

    return get


class Handler(http.server.BaseHTTPRequestHandler):
    admin = ("", "")

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/api/health":
            self._answer(200, {"database": "ok", "version": VERSION, "commit": VERSION})
        else:
            self._not_found()

    def do_POST(self):  # noqa: N802
        match = re.fullmatch(r"/api/admin/provisioning/(datasources|dashboards)/reload", self.path)
        if not match:
            self._not_found()
            return
        expected = "Basic " + base64.b64encode(f"{self.admin[0]}:{self.admin[1]}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._answer(401, {"message": "Invalid username or password"})
            return
        print(f"stand-in: reload of {match.group(1)} provisioning requested by {self.admin[0]}", flush=True)
        self._answer(200, {"message": f"{match.group(1).capitalize()} config reloaded"})

    def _not_found(self):
        self._answer(404, {"message": "Not found (offline stand-in for Grafana: no datasources, dashboards or API)"})

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Offline-Stand-In", "grafana")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def server(args):
    flags, rest = parse_flags(args, SERVER_FLAGS)
    if rest:
        fail(f"Incorrect Usage: flag provided but not defined: {rest[0]}")
    get = load_config(flags)
    data_dir = get("paths", "data", "data")
    try:
        os.makedirs(data_dir, exist_ok=True)
        with open(os.path.join(data_dir, "stand-in.txt"), "w", encoding="utf-8") as handle:
            handle.write("written by the offline stand-in for Grafana\n")
    except OSError as exc:
        fail(f"Grafana stand-in: the data directory {data_dir} is not writable: {exc}")
    Handler.admin = (get("security", "admin_user", "admin"), get("security", "admin_password", "admin"))
    address = (get("server", "http_addr"), int(get("server", "http_port", "3000")))
    httpd = http.server.ThreadingHTTPServer(address, Handler)
    if get("server", "protocol", "http") == "https":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(get("server", "cert_file"), get("server", "cert_key"))
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *unused: sys.exit(0))
    print(f"Grafana OFFLINE STAND-IN listening on {address[0] or '*'}:{address[1]}", flush=True)
    httpd.serve_forever()


def cli(args):
    flags, rest = parse_flags(args, CLI_FLAGS)
    if rest[:2] != ["admin", "reset-admin-password"]:
        fail(f"Grafana stand-in: 'grafana cli {' '.join(rest)}' is not available in the stand-in")
    load_config(flags)
    options = rest[2:]
    if options == ["--password-from-stdin"]:
        password = sys.stdin.readline().rstrip("\n")
    elif len(options) == 1 and not options[0].startswith("-"):
        password = options[0]
    else:
        fail("Incorrect Usage: reset-admin-password [--password-from-stdin] [password]")
    if not password:
        fail("New password is too short")
    print("Admin password changed successfully (offline stand-in: nothing was changed)")


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-v", "--version", "-V"):
        print(f"grafana version {VERSION} (offline stand-in, not Grafana)")
        return
    command = args.pop(0)
    if command == "server":
        server(args)
    elif command == "cli":
        cli(args)
    else:
        fail(f"No help topic for '{command}'", 3)


if __name__ == "__main__":
    main()
