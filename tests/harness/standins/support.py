"""What the offline stand-ins share: Go-style flags, a block-YAML reader and a text HTTP handler.

tests/harness/mirror.sh packs this file in front of each stand-in that
imports it, so every stand-in stays one self-contained executable.
"""

import http.server
import re
import sys


def parse_go_flags(argv, booleans, values, program, usage=""):
    """Flags as Go's flag package reads them: one or two dashes, "-name=value" or "-name value".

    Unknown flags fail as Go's do; -h and -help print the usage and exit.
    """
    flags = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if usage and arg in ("-h", "-help", "--help"):
            print(usage)
            sys.exit(0)
        match = re.fullmatch(r"--?([A-Za-z0-9_.-]+)(?:=(.*))?", arg)
        if not match:
            sys.exit(f"{program} stand-in: unexpected argument {arg!r}")
        name, value = match.group(1), match.group(2)
        if name in booleans:
            if value not in (None, "true", "false", "1", "0"):
                sys.exit(f'invalid boolean value "{value}" for -{name}')
            flags[name] = value in (None, "true", "1")
        elif name in values:
            if value is None:
                if not args:
                    sys.exit(f"flag needs an argument: -{name}")
                value = args.pop(0)
            flags[name] = value
        else:
            print(f"flag provided but not defined: -{name}", file=sys.stderr)
            sys.exit(2)
    return flags


def read_blocks(path):
    """The top-level keys of a block-style YAML file, and the scalars of its server block."""
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


class TextHandler(http.server.BaseHTTPRequestHandler):
    """Plain-text answers and no access log."""

    def answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def serve(address, handler, banner):
    server = http.server.ThreadingHTTPServer(address, handler)
    print(banner, flush=True)
    server.serve_forever()
