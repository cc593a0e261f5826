"""Temporal's own limits that shape what the journey may carry: a payload over them fails the workflow task."""

from __future__ import annotations

from typing import Final

# The server refuses a payload (a command, an activity's input) above its blob size limit (`limit.blobSize.error`,
# 2 MB by default, Temporal Cloud's too).
PAYLOAD_LIMIT_BYTES: Final = 2 * 1024 * 1024
# The largest valid command stays below this share of it, so a command never nears the limit with its envelope,
# its events and their answer around it (tests/security/test_payload_sizes.py).
LARGEST_COMMAND_SHARE: Final = 1 / 8
