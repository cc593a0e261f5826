"""Chain-of-identity labels: every single mistyped character and every adjacent swap is caught."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from stdnum.iso7064 import mod_37_2

from domain.chain_of_identity import (
    ChainOfIdentity,
    ChainOfIdentityError,
    chain_of_identity_mismatch,
    issue_chain_of_identity,
    parse_chain_of_identity,
)
from domain.identifiers import STUDY_ID_PATTERN

study_ids = st.from_regex(STUDY_ID_PATTERN, fullmatch=True)
collection_numbers = st.integers(1, 99)
# What a scanner or a keyboard can put in place of a character (lower case is forgiven: not a mistake).
SUBSTITUTES = string.ascii_uppercase + string.digits + "*- ./#"


def label(study_id: str, collection: int) -> str:
    return str(issue_chain_of_identity(study_id, collection))


# ---------------------------------------------------------------- the printed form


def test_the_label_is_the_study_id_without_its_dash_and_an_iso_7064_mod_37_2_check() -> None:
    coi = issue_chain_of_identity("TF-001", 1)
    check = mod_37_2.calc_check_digit("TF001C01")  # independently, as ISBT 128 computes it
    assert str(coi) == f"COI-TF001-C01-{check}"
    assert (coi.study_id, coi.collection_number, coi.check_character) == ("TF-001", 1, check)
    assert mod_37_2.is_valid("TF001C01" + check)


@pytest.mark.parametrize(
    ("study_id", "collection", "printed_without_check"),
    [
        ("TF-001", 2, "COI-TF001-C02-"),
        ("TF-001", 99, "COI-TF001-C99-"),
        ("AB-12345", 10, "COI-AB12345-C10-"),
        ("TF2-001", 1, "COI-TF2-001-C01-"),  # TF2001 would read as TF-2001: the dash stays
        ("TF-2001", 1, "COI-TF2001-C01-"),
    ],
)
def test_printed_forms(study_id: str, collection: int, printed_without_check: str) -> None:
    printed = label(study_id, collection)
    assert printed[:-1] == printed_without_check
    assert parse_chain_of_identity(printed).study_id == study_id


def test_a_check_character_can_be_a_star() -> None:
    starred = next(label(f"TF-{n:03d}", 1) for n in range(1000) if label(f"TF-{n:03d}", 1).endswith("*"))
    assert parse_chain_of_identity(starred.lower()) == parse_chain_of_identity(starred)


@given(study_id=study_ids, collection=collection_numbers)
def test_a_printed_label_reads_back_as_the_same_identity(study_id: str, collection: int) -> None:
    coi = issue_chain_of_identity(study_id, collection)
    assert parse_chain_of_identity(str(coi)) == coi
    assert parse_chain_of_identity(f"  {str(coi).lower()}\t\n") == coi


@given(first=st.tuples(study_ids, collection_numbers), second=st.tuples(study_ids, collection_numbers))
def test_two_collections_never_share_a_label(first: tuple[str, int], second: tuple[str, int]) -> None:
    assert (label(*first) == label(*second)) is (first == second)


@given(number=st.from_regex(r"[0-9]{3,4}", fullmatch=True), collection=collection_numbers)
def test_moving_the_dash_of_a_digit_ending_prefix_gives_another_label(number: str, collection: int) -> None:
    # TF2-001 and TF-2001 are two patients; without the dash both would print TF2001.
    assert label(f"TF2-{number}", collection) != label(f"TF-2{number}", collection)


# ---------------------------------------------------------------- mistakes are caught


@settings(max_examples=300)
@given(study_id=study_ids, collection=collection_numbers)
def test_every_single_mistyped_character_is_refused(study_id: str, collection: int) -> None:
    printed = label(study_id, collection)
    for position, original in enumerate(printed):
        for substitute in SUBSTITUTES:
            if substitute == original:
                continue
            typo = printed[:position] + substitute + printed[position + 1 :]
            with pytest.raises(ChainOfIdentityError):
                parse_chain_of_identity(typo)


@settings(max_examples=300)
@given(study_id=study_ids, collection=collection_numbers)
def test_every_swap_of_two_adjacent_characters_is_refused(study_id: str, collection: int) -> None:
    printed = label(study_id, collection)
    for position in range(len(printed) - 1):
        left, right = printed[position], printed[position + 1]
        if left == right:
            continue
        swapped = printed[:position] + right + left + printed[position + 2 :]
        with pytest.raises(ChainOfIdentityError):
            parse_chain_of_identity(swapped)


def test_the_bedside_typo_of_the_journey_is_caught() -> None:
    with pytest.raises(ChainOfIdentityError, match=r"check character .* misread or mistyped"):
        parse_chain_of_identity(label("TF-001", 1).replace("TF001", "TF007"))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no chain-of-identity label was read"),
        ("   ", "no chain-of-identity label was read"),
        ("COI TF001 C01 F", "contains ' '"),
        ("COI-TF001-C01-F!", "contains '!'"),
        ("COI–TF001–C01–F", "contains '–'"),  # an en dash from a word processor
        ("coı-tf001-c01-f", "contains 'ı'"),  # a dotless i: upper-cased it would read as I
        ("COI-TF001-C01-ﬀ", "contains 'ﬀ'"),  # a ligature: upper-cased it would read as FF
        ("COI-TF001-C01", "is not a chain-of-identity label"),
        ("COI-TF001-C1-F", "is not a chain-of-identity label"),
        ("COI-TF001-C001-F", "is not a chain-of-identity label"),
        ("COI-TF001-C01-FF", "is not a chain-of-identity label"),
        ("COI-TF0*1-C01-F", "is not a chain-of-identity label"),
        ("TF001-C01-F", "is not a chain-of-identity label"),
        ("COI-TF001-C00-F", "collection 00, which does not exist"),
        ("COI-T001-C01-F", "study part 'T001' is not a study id"),
        ("COI-TF01-C01-F", "study part 'TF01' is not a study id"),
        ("COI-TF123456-C01-F", "study part 'TF123456' is not a study id"),
        ("COI-12345-C01-F", "study part '12345' is not a study id"),
        ("COI-TF-001-C01-F", "labels print TF-001 as 'TF001'"),
    ],
)
def test_unreadable_labels_say_what_is_wrong_and_what_to_do(text: str, reason: str) -> None:
    with pytest.raises(ChainOfIdentityError, match=reason) as raised:
        parse_chain_of_identity(text)
    assert "re-scan the bag label" in str(raised.value)
    assert isinstance(raised.value, ValueError)


# ---------------------------------------------------------------- issuing and the model


@pytest.mark.parametrize("collection", [1, 99])
def test_collection_numbers_1_to_99_can_be_issued(collection: int) -> None:
    assert issue_chain_of_identity("TF-001", collection).collection_number == collection


@pytest.mark.parametrize(
    ("study_id", "collection", "reason"),
    [
        ("TF-001", 0, "collection number 0 cannot be printed"),
        ("TF-001", 100, "collection number 100 cannot be printed"),
        ("TF001", 1, "study id 'TF001' is not in the trial's format"),
        ("tf-001", 1, "study id 'tf-001' is not in the trial's format"),
        ("", 1, "study id '' is not in the trial's format"),
    ],
)
def test_issuing_refuses_what_cannot_be_printed(study_id: str, collection: int, reason: str) -> None:
    with pytest.raises(ChainOfIdentityError, match=reason):
        issue_chain_of_identity(study_id, collection)


def test_the_model_refuses_a_wrong_check_character() -> None:
    right = issue_chain_of_identity("TF-001", 1)
    wrong = "A" if right.check_character != "A" else "B"
    with pytest.raises(ValidationError, match="the check character of TF-001 collection 1 is"):
        ChainOfIdentity(study_id="TF-001", collection_number=1, check_character=wrong)
    with pytest.raises(ValidationError):
        ChainOfIdentity(study_id="TF-001", collection_number=100, check_character=right.check_character)
    assert ChainOfIdentity.model_validate(right.model_dump()) == right


# ---------------------------------------------------------------- the bedside check


def test_the_right_bag_matches() -> None:
    expected = issue_chain_of_identity("TF-001", 2)
    assert chain_of_identity_mismatch(str(expected), expected) is None
    assert chain_of_identity_mismatch(f" {str(expected).lower()} ", expected) is None


@pytest.mark.parametrize(
    ("bag", "reason"),
    [
        (("TF-002", 1), "the bag belongs to TF-002 collection 1, not to this patient's TF-001 collection 2"),
        (("TF-001", 1), "the bag belongs to TF-001 collection 1, not to this patient's TF-001 collection 2"),
        (
            ("TF2-001", 2),
            "the bag belongs to TF2-001 collection 2, not to this patient's TF-001 collection 2",
        ),
    ],
)
def test_another_bag_is_named_beside_the_patients_own(bag: tuple[str, int], reason: str) -> None:
    expected = issue_chain_of_identity("TF-001", 2)
    assert chain_of_identity_mismatch(label(*bag), expected) == reason


def test_an_unreadable_bag_label_is_a_mismatch_with_its_reason() -> None:
    expected = issue_chain_of_identity("TF-001", 1)
    reason = chain_of_identity_mismatch(str(expected)[:-1] + "#", expected)
    assert reason is not None
    assert reason.startswith("the scanned label is not valid: the label 'COI-TF001-C01-#' contains '#'")
    assert "re-scan the bag label" in reason


@given(study_id=study_ids, collection=collection_numbers, other=st.tuples(study_ids, collection_numbers))
def test_a_mismatch_names_both_identities(study_id: str, collection: int, other: tuple[str, int]) -> None:
    expected = issue_chain_of_identity(study_id, collection)
    reason = chain_of_identity_mismatch(label(*other), expected)
    if other == (study_id, collection):
        assert reason is None
    else:
        assert reason is not None
        assert f"{other[0]} collection {other[1]}" in reason
        assert f"this patient's {study_id} collection {collection}" in reason
