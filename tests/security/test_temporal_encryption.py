"""Encryption against a real Temporal dev server: nothing of a marked input, update, result or failure is readable
in the raw history or the server's database without the key; with it, everything decodes. The controls, run
without the codec and without the failure converter, show that the same check finds the marker when it is there.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

from security import (
    ENCRYPTED_ENCODING,
    UNENCRYPTED_PAYLOAD_REFUSED,
    EncryptionCodec,
    PayloadKeyring,
    UnknownPayloadKeyError,
    encrypted_data_converter,
    new_key,
)
from security.auth import hash_token
from tests.processes import stops_with_the_tests
from tests.security.marker_workflows import (
    Marked,
    MarkerFailureWorkflow,
    MarkerRoundTripWorkflow,
    echo_marker,
    fail_with_marker,
)
from workers.dev_server import DevServer, find_temporal_binary, free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KEYRING = PayloadKeyring("k1", {"k1": base64.b64decode(new_key())})
# Encrypted payloads, but failure messages left where Temporal keeps them: the converter without the failure part.
CODEC_ONLY = replace(pydantic_data_converter, payload_codec=EncryptionCodec(KEYRING))


@dataclass(frozen=True)
class Servers:
    temporal: DevServer
    encrypted: Client  # the project's converter: the codec and the encoded-attributes failure converter
    plain: Client  # no codec: what someone reading Temporal without the key sees
    queues: dict[str, str]  # "encrypted", "plain", "codec only": a worker with that converter serves each


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Servers]:
    data_dir = tmp_path_factory.mktemp("encrypted-temporal")
    async with AsyncExitStack() as stack:
        temporal = await stack.enter_async_context(DevServer(data_dir=data_dir, pick_free_ports=True))
        converters = {"encrypted": encrypted_data_converter(KEYRING), "plain": pydantic_data_converter}
        converters["codec only"] = CODEC_ONLY
        clients = {name: await Client.connect(temporal.address, data_converter=c) for name, c in converters.items()}
        queues = {name: f"markers-{name.replace(' ', '-')}-{uuid.uuid4()}" for name in converters}
        for name, client in clients.items():
            worker = Worker(
                client,
                task_queue=queues[name],
                workflows=[MarkerRoundTripWorkflow, MarkerFailureWorkflow],
                activities=[echo_marker, fail_with_marker],
            )
            await stack.enter_async_context(worker)
        yield Servers(temporal, clients["encrypted"], clients["plain"], queues)


def new_marker() -> str:
    return f"PHI-MARKER-{uuid.uuid4().hex}"


async def round_trip(
    client: Client, task_queue: str, marker: str
) -> tuple[WorkflowHandle[MarkerRoundTripWorkflow, Marked], Marked]:
    # The workflow id is never encrypted: it carries no marker, as a journey's carries only the study id.
    handle = await client.start_workflow(
        MarkerRoundTripWorkflow.run, Marked(marker=marker), id=f"round-trip-{uuid.uuid4()}", task_queue=task_queue
    )
    noted = await handle.execute_update(MarkerRoundTripWorkflow.note, Marked(marker=f"update {marker}"))
    assert noted == Marked(marker=f"noted update {marker}")
    return handle, await handle.result()


async def failing(
    client: Client, task_queue: str, marker: str
) -> tuple[WorkflowHandle[MarkerFailureWorkflow, None], WorkflowFailureError]:
    handle = await client.start_workflow(
        MarkerFailureWorkflow.run, Marked(marker=marker), id=f"failing-{uuid.uuid4()}", task_queue=task_queue
    )
    with pytest.raises(WorkflowFailureError) as raised:
        await handle.result()
    return handle, raised.value


async def raw_history(servers: Servers, workflow_id: str) -> bytes:
    """The history's events as Temporal stores and serves them: protobuf bytes, fetched without any codec."""
    history = await servers.plain.get_workflow_handle(workflow_id).fetch_history()
    return b"".join(event.SerializeToString() for event in history.events)


def stored_bytes(server: DevServer) -> bytes:
    """Every byte of the dev server's SQLite database, its write-ahead log included."""
    files = sorted(server.db_file.parent.glob(f"{server.db_file.name}*"))
    assert files, "the dev server keeps no database file where expected"
    return b"".join(path.read_bytes() for path in files)


async def test_input_update_and_result_are_unreadable_without_the_key(servers: Servers) -> None:
    marker, control = new_marker(), new_marker()

    handle, result = await round_trip(servers.encrypted, servers.queues["encrypted"], marker)
    control_handle, _ = await round_trip(servers.plain, servers.queues["plain"], control)

    assert result == Marked(marker=f"echoed {marker} and update {marker}")
    assert await handle.query(MarkerRoundTripWorkflow.noted) == Marked(marker=f"update {marker}")
    raw, control_raw = await raw_history(servers, handle.id), await raw_history(servers, control_handle.id)
    assert control.encode() in control_raw  # the check finds a marker that is there
    assert marker.encode() not in raw
    stored = stored_bytes(servers.temporal)
    assert control.encode() in stored
    assert marker.encode() not in stored


async def test_the_stored_input_is_encrypted_and_decodes_with_the_key_even_after_rotation(servers: Servers) -> None:
    marker = new_marker()
    handle, _ = await round_trip(servers.encrypted, servers.queues["encrypted"], marker)

    history = await servers.plain.get_workflow_handle(handle.id).fetch_history()
    started = history.events[0]
    assert started.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    stored_input = list(started.workflow_execution_started_event_attributes.input.payloads)
    assert [p.metadata["encoding"] for p in stored_input] == [ENCRYPTED_ENCODING]

    for keyring in (KEYRING, KEYRING.rotated("k2")):  # a new active key still reads what the old one wrote
        assert await encrypted_data_converter(keyring).decode(stored_input, [Marked]) == [Marked(marker=marker)]
    without_k1 = PayloadKeyring("k2", {"k2": base64.b64decode(new_key())})
    with pytest.raises(UnknownPayloadKeyError, match="'k1'"):
        await encrypted_data_converter(without_k1).decode(stored_input, [Marked])


async def test_a_workflow_started_in_clear_is_refused_by_an_encrypting_worker(servers: Servers) -> None:
    # Anyone who reaches Temporal can start a workflow in clear: an encrypting worker never reads its input. The
    # workflow fails at once (its first task is not retried for ever), and nothing of the input is taken for a value.
    # Journeys started before encryption was switched on must therefore finish first (docs/deployment.md).
    handle = await servers.plain.start_workflow(
        MarkerRoundTripWorkflow.run,
        Marked(marker=new_marker()),
        id=f"in-clear-{uuid.uuid4()}",
        task_queue=servers.queues["encrypted"],
    )
    encrypted_handle = servers.encrypted.get_workflow_handle_for(MarkerRoundTripWorkflow.run, handle.id)

    with pytest.raises(WorkflowFailureError) as raised:
        await encrypted_handle.result()

    cause = raised.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == UNENCRYPTED_PAYLOAD_REFUSED
    assert "payload in clear was refused" in cause.message


async def test_failure_messages_and_details_are_unreadable_without_the_key(servers: Servers) -> None:
    marker, control, codec_only = new_marker(), new_marker(), new_marker()

    handle, failure = await failing(servers.encrypted, servers.queues["encrypted"], marker)
    control_handle, _ = await failing(servers.plain, servers.queues["plain"], control)
    codec_only_handle, _ = await failing(servers.encrypted, servers.queues["codec only"], codec_only)

    # With the key, the whole chain reads as raised: the workflow's error, the activity's, their details.
    workflow_error = failure.cause
    assert isinstance(workflow_error, ApplicationError)
    assert workflow_error.message == f"the workflow failed for {marker}"
    assert workflow_error.details == (Marked(marker=marker).model_dump(),)
    activity_error = workflow_error.cause
    assert isinstance(activity_error, ActivityError)
    assert isinstance(activity_error.cause, ApplicationError)
    assert activity_error.cause.message == f"activity failed for {marker}"

    assert control.encode() in await raw_history(servers, control_handle.id)
    # Encrypting payloads alone leaves the failure messages in clear: the failure converter is what hides them.
    assert codec_only.encode() in await raw_history(servers, codec_only_handle.id)
    assert marker.encode() not in await raw_history(servers, handle.id)
    assert marker.encode() not in stored_bytes(servers.temporal)


# ---------------------------------------------------------------- the Temporal CLI through the codec server


@dataclass(frozen=True)
class CodecServer:
    url: str
    token: str  # an investigator's
    log_file: Path  # the process's output: its audit lines


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def codec_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[CodecServer]:
    """`python -m api.codec_server` as its own process on a free port, with one investigator's token."""
    token, port = "investigator-token-for-the-cli", free_port()
    directory = tmp_path_factory.mktemp("codec-server")
    log_file = directory / "codec-server.log"
    environment = {
        **os.environ,
        "TRIALFLOW_PAYLOAD_KEYS": json.dumps(KEYRING.to_document()),
        "TRIALFLOW_API_TOKENS": json.dumps([{"sha256": hash_token(token), "user_id": "dr.li", "role": "investigator"}]),
        "TRIALFLOW_DATA_DIR": str(directory),
        "TRIALFLOW_LOG_FORMAT": "json",
    }
    log = log_file.open("wb")  # a file, not a pipe: a pipe nobody reads would block the server once full
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.codec_server",
        "--port",
        str(port),
        preexec_fn=stops_with_the_tests,
        env=environment,
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(600):  # up to about a minute on a busy machine; it is ready in a second or two
                if process.returncode is not None:
                    raise AssertionError(f"the codec server exited with {process.returncode}: {log_file.read_text()}")
                try:
                    if (await http.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the codec server did not answer: {log_file.read_text()}")
        yield CodecServer(url, token, log_file)
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
        log.close()


async def temporal_cli(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        str(find_temporal_binary()),
        *args,
        preexec_fn=stops_with_the_tests,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode(errors="replace")
    return out.decode(errors="replace")


async def test_the_temporal_cli_reads_the_history_through_the_codec_server(
    servers: Servers, codec_server: CodecServer
) -> None:
    marker = new_marker()
    handle, _ = await round_trip(servers.encrypted, servers.queues["encrypted"], marker)
    show = ("workflow", "show", "--workflow-id", handle.id, "--address", servers.temporal.address, "--detailed")

    without_codec = await temporal_cli(*show)
    codec = ("--codec-endpoint", codec_server.url, "--codec-auth", f"Bearer {codec_server.token}")
    with_codec = await temporal_cli(*show, *codec)

    assert marker not in without_codec
    assert marker in with_codec
    log_text = codec_server.log_file.read_text()
    audit = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    assert any(line["event"] == "codec_decode" and line["user_id"] == "dr.li" for line in audit)
    assert marker not in log_text
