"""The attacker's door: Temporal's stock `temporal` CLI, run against a dev server with no key and no token."""

from __future__ import annotations

import asyncio
from typing import Protocol

from tests.processes import stops_with_the_tests
from workers.dev_server import find_temporal_binary


class Served(Protocol):
    @property
    def server(self) -> _Addressed: ...


class _Addressed(Protocol):
    @property
    def address(self) -> str: ...


async def temporal_cli(door: Served, *args: str) -> tuple[int, str]:
    """The stock CLI's exit code and output for `args` against the door's dev server."""
    process = await asyncio.create_subprocess_exec(
        str(find_temporal_binary()),
        *args,
        "--address",
        door.server.address,
        preexec_fn=stops_with_the_tests,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")
