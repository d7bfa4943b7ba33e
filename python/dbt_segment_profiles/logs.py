"""Logging as dbt does it: --log-level, --log-format json (one object a line), a log file."""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

LOGGER = logging.getLogger("dbt_segment_profiles")
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "none": logging.CRITICAL + 10,
}
LOG_FILE = "dbt-segment.log"
_OURS = "_dbt_segment_handler"


class JsonLines(logging.Formatter):
    """One JSON object per line, shaped like `dbt --log-format json`: info and data."""

    def __init__(self, invocation_id: str):
        super().__init__()
        self.invocation_id = invocation_id

    def format(self, record: logging.LogRecord) -> str:
        info = {
            "name": getattr(record, "event", record.levelname.title()),
            "level": "warn" if record.levelno == logging.WARNING else record.levelname.lower(),
            "msg": record.getMessage(),
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "invocation_id": self.invocation_id,
            "pid": record.process,
            "thread": record.threadName,
        }
        return json.dumps({"info": info, "data": getattr(record, "data", {})}, default=str)


class Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        return f"{stamp}  {level}{record.getMessage()}"


def configure(
    level: str = "info",
    log_format: str = "text",
    log_path: str | Path | None = None,
    quiet: bool = False,
) -> str:
    """Set up this invocation's handlers (replacing an earlier invocation's); returns its id.

    stderr gets `level` and above (errors only with --quiet or DBT_QUIET); the log file under
    `log_path` gets everything at debug level, in the same format.
    """
    invocation_id = str(uuid.uuid4())
    for handler in list(LOGGER.handlers):
        if getattr(handler, _OURS, False):
            LOGGER.removeHandler(handler)
            handler.close()
    formatter: logging.Formatter = JsonLines(invocation_id) if log_format == "json" else Text()
    stderr = logging.StreamHandler(sys.stderr)
    quiet = quiet or os.environ.get("DBT_QUIET", "").lower() in ("1", "true", "yes")
    stderr.setLevel(LEVELS["error"] if quiet and level != "none" else LEVELS.get(level, 20))
    stderr.setFormatter(formatter)
    handlers: list[logging.Handler] = [stderr]
    if log_path is not None:
        try:
            Path(log_path).mkdir(parents=True, exist_ok=True)
            to_file = logging.FileHandler(Path(log_path) / LOG_FILE, encoding="utf-8")
            to_file.setLevel(logging.DEBUG)
            to_file.setFormatter(formatter)
            handlers.append(to_file)
        except OSError as error:
            LOGGER.warning("cannot write the log file under %s: %s", log_path, error)
    for handler in handlers:
        setattr(handler, _OURS, True)
        LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.DEBUG)
    LOGGER.propagate = False
    return invocation_id
