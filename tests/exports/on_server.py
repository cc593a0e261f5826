"""A synthetic trial record kept by a real server: patients driven through the trial client along the shared path
(tests/facade/journeys.py): one infused with a grade-3 CRS (signed), one screen failure."""

from __future__ import annotations

from facade import TrialClient
from tests.facade.journeys import GRADE_3_CRS, SCREEN_FAILURE, enrollment, infused


async def synthetic_trial(trial: TrialClient, infused_id: str, failed_id: str) -> None:
    await infused(trial, infused_id, crs=GRADE_3_CRS)
    await trial.enroll(enrollment(failed_id, **SCREEN_FAILURE))
