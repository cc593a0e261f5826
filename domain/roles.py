"""Who may act: the study roles and the actor every command and event names."""

from __future__ import annotations

from enum import StrEnum

from domain.protocol import FrozenModel
from domain.record_limits import ActorUserId


class Role(StrEnum):
    RESEARCH_COORDINATOR = "research_coordinator"
    INVESTIGATOR = "investigator"
    APHERESIS_UNIT = "apheresis_unit"
    CELL_LAB = "cell_lab"
    LABORATORY = "laboratory"  # the hospital lab: bone-marrow MRD and counts
    PHARMACY = "pharmacy"
    NURSE = "nurse"
    PHYSICIAN = "physician"
    SUPERVISOR = "supervisor"  # reads everything, records nothing
    DSMB = "dsmb"  # the data and safety monitoring board: decides when the stopping rule has paused the trial
    SYSTEM = "system"  # the workflow itself: timers that expire, visits that pass unmade


class Actor(FrozenModel):
    user_id: ActorUserId  # a plain token: the trial record keeps it in every event
    role: Role


SYSTEM_ACTOR = Actor(user_id="trialflow", role=Role.SYSTEM)
