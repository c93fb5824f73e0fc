"""Rank reports: how a rank's start, progress and traceback reach the driver.

When a rank of a TorchDistributor job raises, the driver's Spark exception
names neither the rank nor its error: pyspark 4.3.0 reports "TorchDistributor
failed during training" and leaves the traceback in the executor's output.
The peers of a dead rank fail with an unrelated "Connection closed by
peer". Spark offers no other channel from the training process back to the
driver, so each rank sends small JSON reports to a TCP server that the
driver runs on ``spark.driver.host`` for the length of the job: "started"
(rank, host, pid), "progress" (step), "finished", and "failed" with the
traceback. :func:`explain_failure` turns them into one message that names
the rank that failed first, and says so when a rank died without a word
(killed, out of memory, lost executor).

Nothing here imports pyspark.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import socketserver
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 5.0
_MAX_REPORT_BYTES = 1 << 20


class TrainingFailedError(RuntimeError):
    """A distributed training job failed; the message names the rank and carries its traceback.

    Attributes:
        rank: the rank whose failure stopped the job, or None when no rank
            reported (the job failed before training started).
        attempts: how many times the job was launched.
    """

    def __init__(self, message: str, rank: int | None = None, attempts: int = 1):
        super().__init__(message)
        self.rank = rank
        self.attempts = attempts


@dataclass
class Report:
    """One message from a rank."""

    kind: str
    rank: int
    attempt: int
    received: float
    fields: dict[str, Any] = field(default_factory=dict)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline(_MAX_REPORT_BYTES)
        try:
            message = json.loads(line)
        except ValueError:
            return
        self.server.collector.accept(message)  # type: ignore[attr-defined]


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ReportServer:
    """Collect rank reports on ``host`` until closed.

    Reports must carry this server's random token, so stray connections
    to the port are ignored. ``observer`` is called with each accepted
    report, from a server thread.
    """

    def __init__(self, host: str, observer: Callable[[Report], None] | None = None):
        self.token = secrets.token_hex(16)
        self.observer = observer
        self._reports: list[Report] = []
        self._lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        self._server.collector = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="sparkgan-reports", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return host, port

    def accept(self, message: dict[str, Any]) -> None:
        if message.get("token") != self.token:
            return
        report = Report(
            kind=str(message.get("kind")),
            rank=int(message.get("rank", -1)),
            attempt=int(message.get("attempt", 0)),
            received=time.monotonic(),
            fields=message.get("fields") or {},
        )
        with self._lock:
            self._reports.append(report)
        if self.observer is not None:
            try:
                self.observer(report)
            except Exception:  # an observer's bug must not stop report collection
                log.exception("report observer failed on %s", report)

    def reports(self, attempt: int | None = None) -> list[Report]:
        with self._lock:
            return [r for r in self._reports if attempt is None or r.attempt == attempt]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class ReportClient:
    """Send reports of one rank to the driver; a report that cannot be sent is logged once, not raised."""

    def __init__(self, address: tuple[str, int] | None, token: str, attempt: int, rank: int):
        self.address = tuple(address) if address else None
        self.token = token
        self.attempt = attempt
        self.rank = rank
        self._warned = False

    def send(self, kind: str, **fields: Any) -> None:
        if self.address is None:
            return
        message = {"token": self.token, "kind": kind, "rank": self.rank, "attempt": self.attempt, "fields": fields}
        data = (json.dumps(message, default=str) + "\n").encode()
        try:
            with socket.create_connection(self.address, timeout=_CONNECT_TIMEOUT_S) as connection:
                connection.sendall(data)
        except OSError as error:
            if not self._warned:
                self._warned = True
                log.warning("cannot send reports to the driver at %s:%s: %s", *self.address, error)

    def started(self) -> None:
        self.send("started", host=socket.gethostname(), pid=os.getpid())

    def failed(self, error: BaseException, step: int | None, communication: bool) -> None:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        self.send(
            "failed",
            host=socket.gethostname(),
            pid=os.getpid(),
            step=step,
            error=f"{type(error).__name__}: {error}",
            traceback=text[-20000:],
            communication=communication,
        )


def explain_failure(
    reports: list[Report], world_size: int, attempt: int, max_attempts: int, spark_error: str
) -> tuple[str, int | None]:
    """Describe why an attempt failed, naming the rank that failed first.

    Returns ``(message, rank)``. The first match wins:

    1. the first rank that raised an error of its own;
    2. a rank that started but never reported, because it was killed or hung;
    3. the first rank that reported only a communication error;
    4. Spark's own error, when no rank started (executors that cannot
       import sparkgan, undecodable data).
    """
    started = {r.rank: r for r in reports if r.kind == "started"}
    ended = {r.rank for r in reports if r.kind in ("finished", "failed")}
    failures = [r for r in reports if r.kind == "failed"]
    own = [r for r in failures if not r.fields.get("communication")]
    silent = sorted(rank for rank in started if rank not in ended)
    where = f"attempt {attempt} of {max_attempts}"

    if own:
        first = own[0]
        message = (
            f"training failed on rank {first.rank} of {world_size} ({_origin(first)}, {where}):\n"
            f"{first.fields.get('traceback', first.fields.get('error', ''))}".rstrip()
        )
        rank = first.rank
    elif silent:
        rank = silent[0]
        last_step = _last_step(reports, rank)
        message = (
            f"training failed: rank {rank} of {world_size} ({_origin(started[rank])}, {where}) stopped without "
            f"reporting an error{last_step}. The process was killed, crashed or hung (out of memory, a signal, "
            "a lost executor); its executor's log has the details."
        )
    elif failures:
        first = failures[0]
        rank = first.rank
        message = (
            f"training failed on rank {first.rank} of {world_size} ({_origin(first)}, {where}) "
            f"while waiting for the other ranks:\n{first.fields.get('traceback', '')}".rstrip()
        )
    else:
        return (
            f"training failed before any rank started ({where}). Spark reported:\n{summarise_spark_error(spark_error)}",
            None,
        )

    others = [r for r in failures if r.rank != rank]
    if others:
        lines = "\n".join(f"  rank {r.rank}: {r.fields.get('error', '')[:300]}" for r in others)
        message += f"\nThe other ranks stopped because of it:\n{lines}"
    return message, rank


def _origin(report: Report) -> str:
    fields = report.fields
    step = fields.get("step")
    at_step = f", step {step}" if step is not None else ""
    return f"pid {fields.get('pid', '?')} on {fields.get('host', '?')}{at_step}"


def _last_step(reports: list[Report], rank: int) -> str:
    steps = [r.fields.get("step") for r in reports if r.kind == "progress" and r.fields.get("step") is not None]
    return f" after step {max(steps)} of the job" if steps else ""


def summarise_spark_error(text: str, max_lines: int = 30) -> str:
    """Keep the part of a Spark job error that a user can act on.

    A Py4JJavaError of a failed job contains a Java stack trace of hundreds
    of lines around the Python worker's traceback. Keep the Python part
    when there is one, else the first lines.
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "Traceback (most recent call last)" in line), None)
    if start is None:
        return "\n".join(lines[:max_lines])
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("at org.apache")), len(lines))
    kept = lines[start:end]
    if len(kept) > max_lines:
        kept = kept[:5] + ["  ..."] + kept[-(max_lines - 6):]
    return "\n".join(kept)
