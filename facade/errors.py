"""Why the trial client refused or could not answer, in plain words naming the study id.

Each error has a stable `code` (for problem details and exit codes) and every reason listed in `reasons`.
"""

from __future__ import annotations

from collections.abc import Sequence


class TrialError(Exception):
    """Base of everything the trial client refuses; nothing was changed when one is raised."""

    code = "trial_error"

    def __init__(self, study_id: str, message: str, reasons: Sequence[str] = ()) -> None:
        self.study_id = study_id
        self.message = message
        self.reasons: tuple[str, ...] = tuple(reasons) or (message,)
        super().__init__(message)


class AlreadyEnrolled(TrialError):
    code = "already_enrolled"

    def __init__(self, study_id: str) -> None:
        super().__init__(
            study_id,
            f"{study_id} is already enrolled: a study id belongs to one patient only, "
            "and its journey is never started twice",
        )


class UnknownPatient(TrialError):
    code = "unknown_patient"

    def __init__(self, study_id: str) -> None:
        super().__init__(study_id, f"no patient with study id {study_id} is enrolled in the trial")


class CommandRefused(TrialError):
    """The protocol refused the command; `reasons` names every problem found."""

    code = "command_refused"

    def __init__(self, study_id: str, reasons: Sequence[str]) -> None:
        listed = tuple(reasons) or ("the command was refused without a reason",)
        super().__init__(study_id, f"refused for {study_id}: " + "; ".join(listed), listed)


class NotPermitted(CommandRefused):
    """The acting role may not issue this command at all: `reasons` names every reason, the role's among them.

    A CommandRefused still (the protocol's permissions refused it), so whoever handles refusals handles this one.
    """

    code = "forbidden"

    def __init__(self, study_id: str, reasons: Sequence[str], message: str | None = None) -> None:
        super().__init__(study_id, reasons)
        if message:
            self.message = message
            self.args = (message,)


class JourneyClosed(TrialError):
    """The journey has ended: its record can be read, nothing more can be recorded in it."""

    code = "journey_closed"

    def __init__(self, study_id: str, phase: str | None = None) -> None:
        where = f" ({phase.replace('_', ' ')})" if phase else ""
        super().__init__(
            study_id,
            f"the journey of {study_id} has ended{where}: nothing more can be recorded for this patient; "
            "its trial record can still be read",
        )


class EnrollmentNotTaken(TrialError):
    """The journey did not record its enrollment in time. Either it never began (no worker took it, or its first
    step keeps failing): it was stopped with nothing recorded, and the same study id may be enrolled again; or it
    began and waits for the trial record: it records the enrollment once the record takes it."""

    code = "enrollment_not_taken"

    def __init__(self, study_id: str, seconds: float, *, begun: bool = False) -> None:
        what = (
            "it has begun and records the enrollment once the trial record takes it: look again with "
            f"`trial status {study_id}` before enrolling again"
            if begun
            else "no journey worker took it, or its first step keeps failing: it was stopped and nothing was "
            "recorded; enroll again once the journey workers run, and tell an engineer if it happens again"
        )
        super().__init__(
            study_id, f"the journey of {study_id} did not record its enrollment within {seconds:g} s: {what}"
        )
        self.begun = begun


class AdmissionNotAnswered(EnrollmentNotTaken):
    """The trial's workflow did not answer the admission in time (no worker took it, or it cannot read it): no
    journey was started, nothing was recorded, and the same study id may be enrolled again."""

    def __init__(self, study_id: str, seconds: float, why: str) -> None:
        TrialError.__init__(
            self,
            study_id,
            f"the trial did not answer the admission of {study_id} within {seconds:g} s ({why}): no journey was "
            "started and nothing was recorded; enroll again once the journey workers run, and tell an engineer if "
            "it happens again",
        )
        self.begun = False
