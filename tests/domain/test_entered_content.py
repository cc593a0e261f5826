"""Entries signed or sealed before a command model changed still verify: a field added since is marked
`added_later` (left out of the content at its default), a field taken away is written back by its model.

data/entered_fields_1_0.json holds the fields of every signed or sealed model as the first signed entries were made
(protocol 1.0, before the clinical review); it never changes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from domain.canonical_json import canonical_json
from domain.entered_content import entered_content, is_added_later
from domain.journey import commands as cmd
from domain.roles import Actor, Role
from domain.signature import SignatureMeaning, sign, signed_content_sha256
from tests.domain.entered_models import entered_models

AS_FIRST_SIGNED = json.loads((Path(__file__).parent / "data" / "entered_fields_1_0.json").read_text())
# Fields taken away since, each written back by its model's serializer when an old entry carried it.
WRITTEN_BACK = {"domain.toxicity.CrsFindings": {"fever_masked_by_treatment"}}
PHYSICIAN = Actor(user_id="physician-1", role=Role.PHYSICIAN)


def test_every_field_added_since_the_first_signed_entries_is_marked_and_has_a_default() -> None:
    problems = []
    for name, model in entered_models().items():
        before = set(AS_FIRST_SIGNED.get(name, ()))
        if name not in AS_FIRST_SIGNED:
            continue  # a new command: none of its entries predates it
        for field in sorted(set(model.model_fields) - before):
            if not is_added_later(model, field) or model.model_fields[field].is_required():
                problems.append(f"{name}.{field} is new: give it a default and mark it `added_later`")
        for field in sorted(before - set(model.model_fields) - WRITTEN_BACK.get(name, set())):
            problems.append(f"{name}.{field} was taken away: old signed entries no longer verify")
    assert problems == []


def test_a_signature_made_before_a_field_existed_still_verifies() -> None:
    entered_before = {
        "kind": "record_infusion",
        "actor": PHYSICIAN.model_dump(mode="json"),
        "infused_at": "2027-01-02T01:20:00Z",
        "product_label_coi": "COI-TF905-C01-4",
        "cells_infused": 66000000.0,
        "active_uncontrolled_infection": False,
        "hours_since_last_fever": 30.0,
        "uncontrolled_crs_from_prior_therapy": False,
        "tocilizumab_doses_on_site": 2,
        "correction": None,
    }
    signed_then = hashlib.sha256(canonical_json(entered_before).encode()).hexdigest()
    read_now = cmd.RecordInfusion.model_validate(entered_before)
    assert signed_content_sha256(read_now) == signed_then


def test_a_later_field_given_a_value_is_signed() -> None:
    entered = cmd.RecordInfusion(
        actor=PHYSICIAN,
        infused_at=datetime(2027, 1, 2, 1, 20, tzinfo=UTC),
        product_label_coi="COI-TF905-C01-4",
        cells_infused=66_000_000,
        active_uncontrolled_infection=False,
        no_fever=True,
        uncontrolled_crs_from_prior_therapy=False,
        tocilizumab_doses_on_site=2,
    )
    assert entered_content(entered)["no_fever"] is True
    signed = sign(
        entered,
        signer_user_id="physician-1",
        printed_name="Dr One",
        signed_at=datetime(2027, 1, 2, 1, 21, tzinfo=UTC),
        meaning=SignatureMeaning.AUTHOR,
    )
    changed = signed.model_copy(update={"no_fever": False, "hours_since_last_fever": 30.0})
    assert signed.signature is not None
    assert signed_content_sha256(changed) != signed.signature.signed_sha256
