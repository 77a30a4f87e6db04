"""An HTTP receiver standing in for Slack's incoming webhook: it records each POST.

Every request is appended as one JSON line ({path, body}) to /var/lib/receiver/records.jsonl.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECORDS = "/var/lib/receiver/records.jsonl"
LOCK = threading.Lock()


class Webhook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with LOCK, open(RECORDS, "a", encoding="utf-8") as records:
            records.write(json.dumps({"path": self.path, "body": json.loads(body or b"null")}) + "\n")
        data = b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8080), Webhook).serve_forever()
