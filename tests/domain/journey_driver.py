"""Drives a patient's journey through the decider with a controllable clock, the way the workflow will."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.journey import CommandRejected, JourneyState, decide, fold, initial_state
from domain.journey import commands as cmd
from domain.journey.events import Event
from domain.journey.phases import Phase
from domain.journey.timers import due_timers
from domain.protocol import PROTOCOL_V1, TrialProtocol
from domain.roles import Actor, Role
from domain.site_time import site_date, site_moment
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


class JourneyDriver:
    """One patient, the decider, and a clock that only moves forward."""

    def __init__(self, study_id: str = "TF-001", protocol: TrialProtocol = PROTOCOL_V1) -> None:
        self.protocol = protocol
        self.state: JourneyState = initial_state(study_id)
        self.now = START
        self.events: list[Event] = []

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

    def do(self, command: cmd.Command) -> list[Event]:
        events = decide(self.state, command, self.now, self.protocol)
        self.state = fold(self.state, events)
        self.events.extend(events)
        return events

    def refused(self, command: cmd.Command) -> tuple[str, ...]:
        before = self.state.model_copy(deep=True)
        with pytest.raises(CommandRejected) as rejection:
            decide(self.state, command, self.now, self.protocol)
        assert self.state == before
        assert rejection.value.reasons
        return rejection.value.reasons

    def run_timers_until(self, until: datetime) -> list[Event]:
        """Fire every timer due up to `until`, each at its own time, as the workflow's main loop does."""
        fired: list[Event] = []
        while due := due_timers(self.state, self.protocol, until):
            first = due[0]
            self.now = max(self.now, first.due_at)
            fired.extend(self.do(first.command))
        self.now = max(self.now, until)
        return fired

    def types(self) -> list[str]:
        return [e.type for e in self.events]

    # ------------------------------------------------------------ the path, step by step

    def enroll(self, **screening_overrides: Any) -> None:
        self.do(
            cmd.EnrollPatient(
                actor=COORDINATOR, study_id=self.state.study_id, screening=screening(**screening_overrides)
            )
        )

    def to_consent(self) -> None:
        self.enroll()
        self.do(cmd.ConfirmEligibility(actor=INVESTIGATOR))

    def to_apheresis(self) -> None:
        self.to_consent()
        self.do(
            cmd.RecordConsent(
                actor=INVESTIGATOR,
                guardian_consent_signed_on=self.today,
                consent_form_version="ICF v2.1",
                child_assent_obtained=True,
            )
        )

    def collect(self) -> None:
        self.advance(days=1)
        self.do(cmd.RecordApheresis(actor=APHERESIS, collected_on=self.today))

    def release(self, cells: float = 2.0e8) -> None:
        self.advance(days=20)
        assert self.state.chain_of_identity
        self.do(
            cmd.RecordProductRelease(
                actor=CELL_LAB,
                product_label_coi=self.state.chain_of_identity,
                lot_number="SCV-2026-0042",
                total_viable_car_cells=cells,
                released_on=self.today,
            )
        )

    def to_lymphodepletion(self, cells: float = 2.0e8) -> None:
        self.to_apheresis()
        self.collect()
        self.release(cells)

    def prescribe(self, **overrides: Any) -> None:
        values: dict[str, Any] = {
            "actor": PHYSICIAN,
            "height_cm": 120.0,
            "weight_kg": 22.0,
            "creatinine_clearance_ml_min_173m2": 110.0,
            "planned_start_on": self.today + timedelta(days=1),
        }
        values.update(overrides)
        self.do(cmd.PrescribeLymphodepletion(**values))

    def give_lymphodepletion(self) -> None:
        """Fludarabine days 1-4 and cyclophosphamide days 1-2, one dose of each a day, as prescribed."""
        plan = self.state.lymphodepletion
        assert plan is not None
        for day in range(1, 5):
            self.move_to(plan.planned_start_on + timedelta(days=day - 1), hour=10)
            for drug in ("fludarabine", "cyclophosphamide"):
                if day <= plan.days[drug]:
                    self.do(
                        cmd.RecordLymphodepletionDose(
                            actor=PHARMACY,
                            drug=drug,
                            day_number=day,
                            dose_mg=plan.daily_dose_mg[drug],
                            given_at=self.now,
                        )
                    )

    def to_infusion(self, cells: float = 2.0e8) -> None:
        self.to_lymphodepletion(cells)
        self.prescribe()
        self.give_lymphodepletion()
        assert self.state.phase is Phase.INFUSION

    def infusion_command(self, **overrides: Any) -> cmd.RecordInfusion:
        values: dict[str, Any] = {
            "actor": PHYSICIAN,
            "infused_at": self.now,
            "product_label_coi": self.state.chain_of_identity,
            "cells_infused": 6.6e7,
            "active_uncontrolled_infection": False,
            "hours_since_last_fever": None,
            "uncontrolled_crs_from_prior_therapy": False,
            "tocilizumab_doses_on_site": 2,
        }
        values.update(overrides)
        return cmd.RecordInfusion(**values)

    def infuse(self, days_after_lymphodepletion: int = 2, **overrides: Any) -> None:
        completed = self.state.lymphodepletion_completed
        assert completed is not None
        self.move_to(completed.last_dose_on + timedelta(days=days_after_lymphodepletion), hour=9)
        self.do(self.infusion_command(**overrides))

    def to_follow_up(self) -> None:
        self.to_infusion()
        self.infuse()
        assert self.state.phase is Phase.TOXICITY_OBSERVATION
