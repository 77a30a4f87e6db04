"""Write log lines the way the platform's backend does: JSON, one object per line.

A real Python logger with a JSON formatter, in the seed's format (timestamp,
level, logger, message, user_id, request_id, endpoint, duration_ms). Run as:
backend_logger.py <path> <run id> <backend|frontend|audit>.
"""

import json
import logging
import sys
from datetime import datetime, timezone


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry)


def logger(path, name):
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger(name)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return log


def main(path, run, kind):
    if kind == "backend":
        api = logger(path, "backend.api")
        api.info("Request processed", extra={"fields": {
            "user_id": "user123", "request_id": f"req-{run}-fast", "endpoint": "/api/pipelines", "duration_ms": 45}})
        api.warning("Slow request", extra={"fields": {
            "user_id": "user456", "request_id": f"req-{run}-slow", "endpoint": "/api/exports", "duration_ms": 1500}})
        logger(path, "backend.pipeline").error("Transformation failed", extra={"fields": {
            "request_id": f"req-{run}-error", "pipeline": "daily-sync"}})
    elif kind == "frontend":
        logger(path, "frontend.next").info("GET /dashboard 200 run %s", run, extra={"fields": {"request_id": f"req-{run}-page"}})
    else:
        logger(path, "security.audit").warning("Login failed", extra={"fields": {
            "event": "login_failed", "user_id": "user789", "request_id": f"req-{run}-login"}})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
