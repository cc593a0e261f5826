"""The command line's floors beside the bare interpreter: a typer command that prints one pydantic model, nothing of
trialflow; given `--url`, it first asks that address with httpx (the floor of a command that asks the API).

Run as a script by bench/cli_latency.py (not as part of the `bench` package, so nothing else is imported). Pydantic
is the stack the brief fixes, typer the command-line library and httpx the HTTP client chosen on it; no `trial`
command can answer sooner than they load, so each command's time is read beside these floors as well.
"""

import pydantic
import typer


class Answer(pydantic.BaseModel):
    word: str


def answer(url: str = "") -> None:
    word = "floor"
    if url:
        import ssl  # only the floor that asks the API loads the HTTP client, as only `trial status` does

        import httpx

        # A TLS context with no trust store read, as `trial status` has for the plain-http API on loopback (reading
        # certifi's bundle costs more than the request): this floor pays for nothing that command does not.
        no_trust_store = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        word = httpx.get(url, timeout=30, verify=no_trust_store).raise_for_status().text
    typer.echo(Answer(word=word).model_dump_json())


if __name__ == "__main__":
    typer.run(answer)
