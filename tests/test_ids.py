"""Ids: prefixed lower-case ULIDs, and the derived ids of events and steps."""

from __future__ import annotations

import pytest

from podium.ids import event_id, new_id, step_id, ulid_string

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def decode(text: str) -> int:
    value = 0
    for char in text:
        value = value * 32 + ALPHABET.index(char)
    return value


def test_the_ulid_specification_example() -> None:
    # The specification's example: 48-bit time 1469922850259 encodes as 01ARZ3NDEK.
    assert ulid_string(1469922850259, 0) == "01arz3ndek" + "0" * 16
    assert ulid_string(2**48 - 1, 2**80 - 1) == "7" + "z" * 25


@pytest.mark.parametrize("value", [0, 1, 2**80 - 1, 2**127 + 12345, 2**128 - 1])
def test_ulid_encoding_round_trips(value: int) -> None:
    text = ulid_string(value >> 80, value & (2**80 - 1))
    assert len(text) == 26 and decode(text) == value


def test_new_ids_are_prefixed_unique_and_sort_by_time() -> None:
    ids = [new_id("run") for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("run_") and len(i) == 30 for i in ids)
    assert sorted(i[4:14] for i in ids) == [i[4:14] for i in ids]  # the time part never falls


def test_an_unknown_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown id prefix 'xyz'"):
        new_id("xyz")


def test_event_ids_are_derived_from_app_seq_and_time() -> None:
    first = event_id("app_a", 1, 1700000000.25)
    assert first == event_id("app_a", 1, 1700000000.25)
    assert first.startswith("evt_") and decode(first[4:]) >> 80 == 1700000000250
    assert (
        len({first, event_id("app_a", 2, 1700000000.25), event_id("app_b", 1, 1700000000.25)}) == 3
    )


def test_step_ids_name_the_run_and_the_step_number() -> None:
    assert step_id("run_01abc", 3) == "stp_01abc_3"
