"""What `trial --help` says of the trial as a whole: the commands supervisors and the DSMB use on it (its status,
the DSMB's decision, the slot calendar) and the staff steps of the cells' chain of custody. Numbers come from the
current protocol, never typed here."""

from __future__ import annotations

from typing import Final

from domain.journey.custody import CUSTODY_ORDER, STEP_WORDS
from domain.protocol import CURRENT_PROTOCOL

# The help panel of the trial-level commands.
TRIAL_PANEL: Final = "The trial as a whole: supervisors and the DSMB (signed in: `trial login`)"


def trial_level_help() -> str:
    """Paragraphs for the top of `trial --help` (a blank line between paragraphs)."""
    rule = CURRENT_PROTOCOL.stopping_rule
    custody = CURRENT_PROTOCOL.custody
    capacity = CURRENT_PROTOCOL.manufacturing
    hand_offs = ", ".join(STEP_WORDS[step] for step in CUSTODY_ORDER)
    return "\n\n".join(
        [
            "The trial as a whole: `trial status --trial` (GET /trial) shows enrollment (open, paused by "
            f"the safety stopping rule, closed), the posterior P(DLT rate > {rule.toxicity_rate_threshold:.0%}) over "
            "evaluable patients, how many more DLTs would pause, the evaluable and pending patients and the accrual "
            f"against its target. A patient is evaluable {rule.dlt_observation_window_days} days after infusion or "
            f"at their DLT. When the posterior passes {rule.posterior_probability_threshold:.2f}, enrollment and new "
            "lymphodepletion stop at once and the investigator, the supervisors and the DSMB are told.",
            "The DSMB then reviews the trial's status and records its signed decision with `trial dsmb-decision` "
            "(POST /trial/dsmb-decisions): resume, resume under an amendment, or stop; nothing else reopens "
            "enrollment. Supervisors follow the pause, the decision and the accrual with `trial status --trial`.",
            f"`trial slots` (GET /slots) shows the manufacturing slot calendar (at most "
            f"{capacity.collections_per_week} apheresis collections a week and "
            f"{capacity.max_products_in_manufacturing} products in manufacturing at once by default; release "
            f"{capacity.manufacturing_days} days after collection). Consent books the earliest free slot and tells "
            "the apheresis unit its day; when none is free the supervisors are alerted at once and the patient's "
            "status says why.",
            f"The cells' hand-offs between collection, release and infusion ({hand_offs}) are recorded by staff "
            "with `trial record STUDY_ID record-custody-hand-off`, each step checked against the bag's "
            "chain-of-identity label (a wrong label is refused). A shipment warmer than "
            f"{custody.max_shipping_temperature_c:g} °C at the site's receipt holds the infusion until the cell "
            "lab's `decide-temperature-excursion`; an infusion more than "
            f"{custody.max_minutes_thaw_to_infusion} minutes after the thaw needs the investigator's "
            "`approve-late-infusion-after-thaw`. `trial status STUDY_ID` shows where the cells are and since when.",
        ]
    )
