"""Notification sinks of the sandbox and the alerting scenario: real servers that record what they get.

- SMTP on :1025 (aiosmtpd), standing in for the mail relay;
- HTTP on :8080, standing in for Slack (/slack), PagerDuty (/pagerduty) and
  custom webhooks (/webhook/...). Each answers as the real service does.

Every delivery is appended as one JSON line to /var/lib/receivers/records.jsonl.
It is part of the sandbox (make demo) and of the tests, never of production.
"""

import email
import email.policy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

RECORDS = "/var/lib/receivers/records.jsonl"
LOCK = threading.Lock()


def record(entry):
    entry["received_at"] = time.time()
    with LOCK, open(RECORDS, "a", encoding="utf-8") as records:
        records.write(json.dumps(entry) + "\n")


class MailSink:
    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}
        record({
            "channel": "email",
            "sender": session.peer[0],
            "to": envelope.rcpt_tos,
            "subject": str(message["Subject"]),
            "text": parts.get("text/plain", ""),
            "html": parts.get("text/html", ""),
        })
        return "250 OK"


class HttpSink(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        channel = self.path.strip("/").split("/")[0]
        record({"channel": channel, "sender": self.client_address[0], "path": self.path, "body": json.loads(body or b"null")})
        if channel == "pagerduty":
            self._answer(202, {"status": "success", "message": "Event processed", "dedup_key": "x"})
        else:
            self._answer(200, {"ok": True})

    def _answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    # Three members flush many groups at once. The default backlog of 5 drops
    # SYNs; the retransmits can delay a delivery past the cluster's peer
    # timeout, and the next member then sends a duplicate.
    request_queue_size = 128


if __name__ == "__main__":
    Controller(MailSink(), hostname="0.0.0.0", port=1025).start()
    Server(("0.0.0.0", 8080), HttpSink).serve_forever()
