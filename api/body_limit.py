"""The request body limit, enforced before anything reads a body or checks a credential: the outermost layer of the
API's app. A declared Content-Length over the limit is answered 413 at once, without reading a byte of the body; a
body without one (chunked) is counted as it arrives and cut off at the first chunk past the limit. The 413 closes the
connection, so the rest of an oversized upload is never read."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import PROBLEM_MEDIA_TYPE, TYPE_PREFIX, ProblemDetails


class BodyLimit:
    """ASGI middleware: at most `max_bytes` of request body per HTTP request, else 413 (a problem document)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == "invalid" or (isinstance(declared, int) and declared > self._max):
            await self._refuse(scope, send)
            return
        if isinstance(declared, int):
            # The server's HTTP parser delivers no more than the declared length.
            await self._app(scope, receive, send)
            return
        # No length declared: read what comes, up to the limit, before the app sees any of it.
        held: list[Message] = []
        size = 0
        while True:
            message = await receive()
            held.append(message)
            if message["type"] != "http.request":
                break  # the client went away: the app sees that as it would have
            size += len(message.get("body", b""))
            if size > self._max:
                await self._refuse(scope, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return held.pop(0) if held else await receive()

        await self._app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        limit = self._max
        detail = (
            f"the request body is larger than the {limit} bytes this API accepts (TRIALFLOW_API_MAX_BODY_BYTES); "
            "it was not read and nothing was recorded"
        )
        body = (
            ProblemDetails(
                type=TYPE_PREFIX + "body-too-large",
                title="Request body too large",
                status=413,
                detail=detail,
                instance=scope.get("path", ""),
                reasons=(detail,),
            )
            .model_dump_json()
            .encode()
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the upload is not read: the connection cannot carry another request.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | str | None:
    """The declared Content-Length; None when absent, "invalid" when it is not one number."""
    values = [value for name, value in scope.get("headers", ()) if name == b"content-length"]
    if not values:
        return None
    if len(set(values)) > 1 or not values[0].strip().isdigit():
        return "invalid"
    return int(values[0])
