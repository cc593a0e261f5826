"""One logging setup for every process: structlog and the stdlib loggers (temporalio, alembic, uvicorn) alike, every
line shaped UTC ISO timestamp, level, logger, event. Logs are not access-controlled like the trial record.

A line names a patient by study id only; `redact_phi` masks PHI under known keys, not in a message's free text."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["auto", "json", "console"]

REDACTED = "[redacted: PHI]"

# Keys whose values identify a person rather than a study participant (compared lower-case, '-' as '_').
PHI_KEYS = frozenset(
    {
        "name",
        "full_name",
        "patient_name",
        "first_name",
        "given_name",
        "last_name",
        "family_name",
        "surname",
        "date_of_birth",
        "birth_date",
        "birthdate",
        "dob",
        "mrn",
        "medical_record_number",
        "address",
        "home_address",
        "street_address",
        "phone",
        "phone_number",
        "telephone",
        "email",
        "national_id",
        "id_card_number",
    }
)

_HANDLER_MARK = "_trialflow_handler"


def _is_phi_key(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in PHI_KEYS


def _redacted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: REDACTED if _is_phi_key(key) else _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def redact_phi(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Replace the value of every PHI-looking key, at any depth, before anything renders it."""
    for key in list(event_dict):
        if key == "event":
            continue
        event_dict[key] = REDACTED if _is_phi_key(key) else _redacted(event_dict[key])
    return event_dict


def _drop_formatter_leftovers(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Another handler's formatter may have stored `message`/`asctime` on a stdlib record: not extras."""
    record = event_dict.get("_record")
    if record is not None:
        for attribute in ("message", "asctime"):
            if attribute in record.__dict__:
                event_dict.pop(attribute, None)
    return event_dict


def _shared_processors() -> list[Processor]:
    """What structlog calls and stdlib records both go through, in this order."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_formatter_leftovers,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_phi,
        structlog.processors.StackInfoRenderer(),
    ]


def _renderer(fmt: LogFormat, stream: TextIO) -> list[Processor]:
    use_console = fmt == "console" or (fmt == "auto" and stream.isatty())
    # Tracebacks without local variables: a frame's locals may hold exactly what redact_phi keeps out.
    if use_console:
        traceback = structlog.dev.RichTracebackFormatter(show_locals=False)
        return [structlog.dev.ConsoleRenderer(colors=stream.isatty(), exception_formatter=traceback)]
    tracebacks = structlog.processors.ExceptionRenderer(
        structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
    )
    return [tracebacks, structlog.processors.JSONRenderer()]


def configure_logging(fmt: LogFormat = "auto", level: str | int = "INFO", *, stream: TextIO | None = None) -> None:
    """Set up structlog and the stdlib root logger. Safe to call again: the previous setup is replaced.

    `auto` renders for people when the stream is a terminal and JSON lines otherwise (production, CI).
    """
    if fmt not in ("auto", "json", "console"):
        raise ValueError(f"log format must be auto, json or console, not {fmt!r}")
    stream = stream if stream is not None else sys.stderr
    numeric_level = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level {level!r}")

    shared = _shared_processors()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_renderer(fmt, stream)],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for previous in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(numeric_level)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger named like a stdlib one (`get_logger(__name__)`)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
