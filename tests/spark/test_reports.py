"""Rank reports: delivery to the driver and the choice of the rank to blame."""

import time

import pytest

from sparkgan.spark.reports import Report, ReportClient, ReportServer, explain_failure, summarise_spark_error


def wait_for(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "reports did not arrive"
        time.sleep(0.02)


def test_reports_reach_server_with_token():
    seen = []
    server = ReportServer("127.0.0.1", observer=seen.append)
    try:
        assert server.address[0] == "127.0.0.1"
        client = ReportClient(server.address, server.token, attempt=2, rank=1)
        client.started()
        try:
            raise ValueError("bad value in rank 1")
        except ValueError as error:
            client.failed(error, step=7, communication=False)
        ReportClient(server.address, "wrong token", attempt=2, rank=0).send("started")
        wait_for(lambda: len(server.reports()) == 2)
        time.sleep(0.1)
    finally:
        server.close()
    kinds = [(r.kind, r.rank, r.attempt) for r in server.reports()]
    assert kinds == [("started", 1, 2), ("failed", 1, 2)]
    failed = server.reports(attempt=2)[1]
    assert failed.fields["step"] == 7
    assert "ValueError: bad value in rank 1" in failed.fields["traceback"]
    assert len(seen) == 2


def test_unreachable_driver_is_not_an_error(caplog):
    client = ReportClient(("127.0.0.1", 1), "token", attempt=1, rank=0)
    client.send("progress", step=1)
    client.send("progress", step=2)
    assert len([r for r in caplog.records if "cannot send reports" in r.message]) == 1


def report(kind, rank, **fields):
    return Report(kind, rank, attempt=1, received=0.0, fields={"pid": 100 + rank, "host": "h", **fields})


CASES = [
    # A rank's own error beats its peers' lost connections, whatever the order.
    ([report("started", 0), report("started", 1),
      report("failed", 0, error="RuntimeError: Connection closed by peer", communication=True, traceback="gloo"),
      report("failed", 1, error="ValueError: boom", communication=False, traceback="Traceback\nValueError: boom")],
     1, ["rank 1 of 2", "pid 101", "ValueError: boom", "rank 0: RuntimeError: Connection closed by peer"]),
    # A rank that vanished without a word is to blame, not the peer that lost it.
    ([report("started", 0), report("started", 1), report("progress", 0, step=4),
      report("failed", 0, error="RuntimeError: Connection closed by peer", communication=True, traceback="gloo")],
     1, ["rank 1 of 2", "stopped without reporting an error after step 4", "killed"]),
    # Only communication errors: the first one is shown.
    ([report("started", 0), report("started", 1), report("finished", 1),
      report("failed", 0, error="DistBackendError: timed out", communication=True, traceback="timed out")],
     0, ["rank 0 of 2", "while waiting for the other ranks", "timed out"]),
]


@pytest.mark.parametrize("reports, rank, phrases", CASES, ids=["own-error", "silent-rank", "communication"])
def test_explain_failure_blames_first_cause(reports, rank, phrases):
    message, blamed = explain_failure(reports, world_size=2, attempt=1, max_attempts=1, spark_error="")
    assert blamed == rank
    for phrase in phrases:
        assert phrase in message


def test_explain_failure_without_reports_quotes_spark():
    spark_error = "\n".join(
        ["An error occurred while calling o66.collectToPython.", "org.apache.spark.SparkException: Job aborted",
         "Traceback (most recent call last):", '  File "x.py", line 1', "DataError: failed to decode image a.png",
         "\tat org.apache.spark.api.python.BasePythonRunner"]
    )
    message, rank = explain_failure([], 2, 1, 3, spark_error)
    assert rank is None
    assert "before any rank started (attempt 1 of 3)" in message
    assert "DataError: failed to decode image a.png" in message
    assert "BasePythonRunner" not in message
    assert summarise_spark_error("plain error") == "plain error"
