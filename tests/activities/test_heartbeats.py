"""One thread of the process heartbeats for every running activity, each in its own context, and never for one that
has returned."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from activities import heartbeats
from activities.heartbeats import Heartbeats, heartbeating

ENOUGH_SECONDS = 30  # a bound for a stuck test, not a measurement


def test_one_thread_beats_for_every_running_activity_and_stops_when_each_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    beats = Heartbeats(every=timedelta(milliseconds=20))
    monkeypatch.setattr(heartbeats, "HEARTBEATS", beats)
    beaten = {name: threading.Event() for name in ("append", "notify")}
    counts = dict.fromkeys(beaten, 0)
    let_go = threading.Event()

    def run(name: str) -> None:
        @heartbeating
        def work() -> str:
            assert let_go.wait(ENOUGH_SECONDS)
            return name

        def on_heartbeat(*_details: object) -> None:
            counts[name] += 1
            if counts[name] >= 2:
                beaten[name].set()

        environment = ActivityEnvironment()
        environment.on_heartbeat = on_heartbeat
        assert environment.run(work) == name

    # The process's own beating thread may run already (activities of earlier tests in this process): count anew.
    beating_before = {t for t in threading.enumerate() if t.name == "activity-heartbeats"}
    threads = [threading.Thread(target=run, args=(name,)) for name in beaten]
    for thread in threads:
        thread.start()
    assert all(event.wait(ENOUGH_SECONDS) for event in beaten.values())  # each beaten in its own context
    assert beats.running() == 2
    beating_now = {t for t in threading.enumerate() if t.name == "activity-heartbeats"}
    assert len(beating_now - beating_before) == 1  # one thread for both activities
    let_go.set()
    for thread in threads:
        thread.join(ENOUGH_SECONDS)
    assert beats.running() == 0  # stopped under the beating lock: no beat after an activity returned


def test_an_activity_that_raises_is_no_longer_beaten(monkeypatch: pytest.MonkeyPatch) -> None:
    beats = Heartbeats(every=timedelta(milliseconds=20))
    monkeypatch.setattr(heartbeats, "HEARTBEATS", beats)

    @heartbeating
    def failing() -> None:
        raise RuntimeError("the record is away")

    with pytest.raises(RuntimeError, match="the record is away"):
        ActivityEnvironment().run(failing)
    assert beats.running() == 0
