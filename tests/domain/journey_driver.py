"""Drives a patient's journey through the decider with a controllable clock, the way the workflow will: the
shared path (simulation/journey_steps.py) for the way there, single steps for the tests' own paths."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.journey import CommandRejected, decide
from domain.journey import commands as cmd
from domain.journey.phases import Phase
from domain.protocol import PROTOCOL_V1, TrialProtocol
from domain.roles import Actor, Role
from domain.site_time import site_date, site_moment
from simulation import journey_steps as path
from simulation.journey_steps import DecidedJourney, Milestone, PathPatient
from tests.domain.examples import crs_findings, icans_findings, marrow, screening

__all__ = ["crs_findings", "icans_findings", "marrow", "screening"]  # re-exported for the journey tests

# 09:00 at the site (UTC+8) on Monday 5 January 2026.
START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def actor(role: Role, user: str | None = None) -> Actor:
    return Actor(user_id=user or f"{role.value}-1", role=role)


COORDINATOR = actor(Role.RESEARCH_COORDINATOR)
INVESTIGATOR = actor(Role.INVESTIGATOR)
APHERESIS = actor(Role.APHERESIS_UNIT)
CELL_LAB = actor(Role.CELL_LAB)
LAB = actor(Role.LABORATORY)
PHARMACY = actor(Role.PHARMACY)
NURSE = actor(Role.NURSE)
PHYSICIAN = actor(Role.PHYSICIAN)
SUPERVISOR = actor(Role.SUPERVISOR)


class JourneyDriver(DecidedJourney):
    """One patient, the decider, and a clock that only moves forward."""

    def __init__(
        self, study_id: str = "TF-001", protocol: TrialProtocol = PROTOCOL_V1, *, chain_of_custody: bool = False
    ) -> None:
        # By default a journey enrolled before the cells' hand-offs were required (the rules around them are
        # tested on their own; tests/domain/test_journey_custody.py requires them).
        super().__init__(study_id, START, protocol, chain_of_custody=chain_of_custody)
        self.patient = PathPatient(study_id=study_id)

    # ------------------------------------------------------------ the clock

    @property
    def today(self) -> date:
        return site_date(self.now, self.protocol.schedule)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def at_site(self, day: date, hour: int = 9) -> datetime:
        return site_moment(day, hour, self.protocol.schedule)

    def move_to(self, day: date, hour: int = 9) -> None:
        target = self.at_site(day, hour)
        assert target >= self.now, "the clock only moves forward"
        self.run_timers_until(target)

    # ------------------------------------------------------------ commands

    def refused(self, command: cmd.Command, sign: bool = True) -> tuple[str, ...]:
        """The reasons `command` is refused now (signed by its actor first, unless `sign` is False); nothing
        changes."""
        before = self.state.model_copy(deep=True)
        if sign and command.signature is None:
            command = path.signed(command, self.now)
        with pytest.raises(CommandRejected) as rejection:
            decide(self.state, command, self.now, self.protocol, chain_of_custody=self.chain_of_custody)
        assert self.state == before
        assert rejection.value.reasons
        return rejection.value.reasons

    def types(self) -> list[str]:
        return [e.type for e in self.events]

    # ------------------------------------------------------------ the path, step by step

    def enroll(self, **screening_overrides: Any) -> None:
        self.do(
            cmd.EnrollPatient(
                actor=COORDINATOR, study_id=self.state.study_id, screening=screening(**screening_overrides)
            )
        )

    def walk_to(self, milestone: Milestone, cells: float | None = None) -> None:
        """Enrolled now, then the shared path to `milestone` (`cells` released, if given)."""
        self.enroll()
        patient = self.patient if cells is None else self.patient.model_copy(update={"released_cells": cells})
        self.walk(path.path_to(milestone, patient, self.now, self.protocol))

    def to_consent(self) -> None:
        self.walk_to(Milestone.ELIGIBILITY_CONFIRMED)

    def to_apheresis(self) -> None:
        self.walk_to(Milestone.CONSENTED)

    def collect(self) -> None:
        self.advance(days=1)
        self.do(path.apheresis(self.patient, self.today))

    def hand_off(self, step: cmd.CustodyStep, **overrides: Any) -> None:
        """The cells handed on now, the current collection's label scanned."""
        number = self.state.collections[-1].collection_number
        self.do(path.amended(path.hand_off(self.patient, step, self.now, number), **overrides))

    def release(self, cells: float = 2.0e8) -> None:
        for step in ("shipped_to_manufacturer", "received_by_manufacturer", "manufacturing_started"):
            if self.state.custody_step(step) is None:  # a re-manufacture starts from the cells already there
                self.hand_off(step)  # type: ignore[arg-type]  # a CustodyStep
        self.advance(days=20)
        assert self.state.chain_of_identity
        release = path.product_release(self.patient, self.today, self.protocol, cells=cells)
        self.do(path.amended(release, product_label_coi=self.state.chain_of_identity))

    def to_lymphodepletion(self, cells: float | None = None) -> None:
        self.walk_to(Milestone.RELEASED, cells)

    def prescribe(self, **overrides: Any) -> None:
        prescription = path.prescription(self.patient, self.today + timedelta(days=1), self.protocol)
        self.do(path.amended(prescription, **overrides))

    def give_lymphodepletion(self) -> None:
        """Every dose of the prescription, one of each drug a day at 10:00, timers firing between."""
        plan = self.state.lymphodepletion
        assert plan is not None
        self.walk(path.lymphodepletion_doses(self.patient, plan.planned_start_on, self.protocol, plan.daily_dose_mg))

    def to_infusion(self, cells: float | None = None) -> None:
        self.walk_to(Milestone.LYMPHODEPLETED, cells)
        assert self.state.phase is Phase.INFUSION

    def infusion_command(self, **overrides: Any) -> cmd.RecordInfusion:
        infusion = path.infusion(self.patient, self.now, self.protocol)
        return path.amended(infusion, **{"product_label_coi": self.state.chain_of_identity, **overrides})

    def infuse(self, days_after_lymphodepletion: int = 2, **overrides: Any) -> None:
        completed = self.state.lymphodepletion_completed
        assert completed is not None
        self.move_to(completed.last_dose_on + timedelta(days=days_after_lymphodepletion), hour=9)
        self.thaw()
        self.do(self.infusion_command(**overrides))

    def thaw(self) -> None:
        """The bag received, stored and thawed now, unless it was already (the infusion follows at once)."""
        for step in ("shipped_to_site", "received_at_site", "stored", "thawed"):
            if self.state.custody_step(step) is None:
                self.hand_off(step)  # type: ignore[arg-type]  # a CustodyStep

    def to_follow_up(self) -> None:
        self.to_infusion()
        self.infuse()
        assert self.state.phase is Phase.TOXICITY_OBSERVATION
