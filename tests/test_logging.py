"""observability.logging: one line shape for structlog and stdlib records, parseable JSON, PHI redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog

from observability.logging import PHI_KEYS, REDACTED, configure_logging, get_logger


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Each test configures logging its own way; put the process back as it was after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    structlog_config = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**structlog_config)


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_structlog_event_is_one_json_line_with_timestamp_level_and_logger() -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)

    get_logger("trialflow.test").info("visit_recorded", study_id="TF-001", visit="day 7")

    [line] = json_lines(stream)
    assert line["event"] == "visit_recorded"
    assert line["level"] == "info"
    assert line["logger"] == "trialflow.test"
    assert line["study_id"] == "TF-001"
    assert line["visit"] == "day 7"
    timestamp = datetime.fromisoformat(line["timestamp"])
    assert timestamp.utcoffset() == UTC.utcoffset(None)


def test_a_stdlib_record_is_routed_through_the_same_processors() -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)

    logging.getLogger("temporalio.worker._workflow").warning(
        "task for %s failed", "TF-002", extra={"attempt": 3, "first_name": "Mei"}
    )

    [line] = json_lines(stream)
    assert line["event"] == "task for TF-002 failed"
    assert line["level"] == "warning"
    assert line["logger"] == "temporalio.worker._workflow"
    assert line["attempt"] == 3
    assert line["first_name"] == REDACTED
    assert "timestamp" in line


def test_structlog_and_stdlib_lines_have_the_same_shape() -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)

    get_logger("a").info("one")
    logging.getLogger("b").info("two")

    first, second = json_lines(stream)
    assert set(first) == set(second) == {"event", "level", "logger", "timestamp"}


@pytest.mark.parametrize("key", sorted(PHI_KEYS))
def test_every_phi_key_is_redacted(key: str) -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)

    get_logger("t").info("enrolled", study_id="TF-003", **{key: "identifying value"})

    [line] = json_lines(stream)
    assert line[key] == REDACTED
    assert line["study_id"] == "TF-003"
    assert "identifying value" not in stream.getvalue()


def test_phi_is_redacted_at_any_depth_and_whatever_the_spelling() -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)

    get_logger("t").info(
        "payload_received",
        payload={"study_id": "TF-004", "Date-Of-Birth": "2015-03-02", "contacts": [{"Phone": "555-0100"}]},
        MRN="A123456",
    )

    [line] = json_lines(stream)
    assert line["payload"] == {
        "study_id": "TF-004",
        "Date-Of-Birth": REDACTED,
        "contacts": [{"Phone": REDACTED}],
    }
    assert line["MRN"] == REDACTED
    for value in ("2015-03-02", "555-0100", "A123456"):
        assert value not in stream.getvalue()


def test_a_traceback_never_shows_local_variables() -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    patient_full_name = "Wang Xiaoming"

    try:
        raise ValueError("weight is missing")
    except ValueError:
        get_logger("t").exception("dose_failed", study_id="TF-005")

    [line] = json_lines(stream)
    assert line["exception"][0]["exc_value"] == "weight is missing"
    assert patient_full_name not in stream.getvalue()


def test_configuring_twice_leaves_one_handler_and_one_line_per_event() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("json", "INFO", stream=first)
    configure_logging("json", "INFO", stream=second)

    get_logger("t").info("once")
    logging.getLogger("stdlib").info("once too")

    assert first.getvalue() == ""
    assert [line["event"] for line in json_lines(second)] == ["once", "once too"]
    ours = [handler for handler in logging.getLogger().handlers if getattr(handler, "_trialflow_handler", False)]
    assert len(ours) == 1


def test_the_level_filters_both_kinds_of_logger() -> None:
    stream = io.StringIO()
    configure_logging("json", "WARNING", stream=stream)

    get_logger("t").info("dropped")
    logging.getLogger("s").info("dropped too")
    get_logger("t").warning("kept")

    assert [line["event"] for line in json_lines(stream)] == ["kept"]


def test_auto_renders_json_when_the_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging("auto", "INFO", stream=stream)

    get_logger("t").info("machine_readable")

    assert json_lines(stream)[0]["event"] == "machine_readable"


def test_console_format_is_for_people_and_still_redacts() -> None:
    stream = io.StringIO()
    configure_logging("console", "INFO", stream=stream)

    get_logger("t").info("infusion_recorded", study_id="TF-006", last_name="Li")
    logging.getLogger("alembic.runtime").info("running upgrade")

    text = stream.getvalue()
    assert "infusion_recorded" in text
    assert "study_id=TF-006" in text
    assert "Li'" not in text
    assert REDACTED in text
    assert "running upgrade" in text
    assert "[alembic.runtime]" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


@pytest.mark.parametrize(("fmt", "level"), [("xml", "INFO"), ("json", "LOUD")])
def test_an_unknown_format_or_level_is_refused(fmt: Any, level: str) -> None:
    with pytest.raises(ValueError, match=r"format|level"):
        configure_logging(fmt, level, stream=io.StringIO())
