"""Pure rules: the account state machine (exhaustively), staff rules, field normalisation."""

from __future__ import annotations

import itertools
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.identity.domain import (
    TRANSITIONS,
    AccountStatus,
    allowed_transitions,
    check_role_change,
    check_staff_change,
    check_transition,
    new_recovery_codes,
    normalize_country,
    normalize_phone,
    normalize_recovery_code,
)
from mercato.identity.errors import InvalidCountry, InvalidPhone, InvalidRole, OwnerProtected, SelfModification
from mercato.platform.errors import IllegalTransition

LEGAL = {("active", "suspended"), ("active", "deactivated"), ("suspended", "active"), ("suspended", "deactivated")}
STATUSES = [s.value for s in AccountStatus]


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_every_pair_of_states(current: str, target: str) -> None:
    if (current, target) in LEGAL:
        assert check_transition(current, target) == target
    else:
        with pytest.raises(IllegalTransition) as exc:
            check_transition(current, target)
        assert exc.value.status == 409
        assert exc.value.extra["allowed_transitions"] == sorted(TRANSITIONS[current])
        assert exc.value.extra["current"] == current and exc.value.extra["target"] == target


def test_deactivated_is_terminal() -> None:
    assert allowed_transitions("deactivated") == frozenset()
    assert allowed_transitions("no-such-state") == frozenset()


@given(st.lists(st.sampled_from(STATUSES), max_size=20))
def test_any_walk_follows_the_table_and_never_leaves_deactivated(path: list[str]) -> None:
    state, was_deactivated = "active", False
    for target in path:
        before = state
        try:
            state = check_transition(state, target)
            assert (before, target) in LEGAL
        except IllegalTransition:
            assert (before, target) not in LEGAL
        if was_deactivated:
            assert state == "deactivated"
        was_deactivated = was_deactivated or state == "deactivated"


def test_staff_change_rules() -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(SelfModification):
        check_staff_change(actor_user_id=me, actor_roles=("owner",), target_user_id=me, target_role="owner")
    with pytest.raises(OwnerProtected):
        check_staff_change(actor_user_id=me, actor_roles=("admin",), target_user_id=other, target_role="owner")
    with pytest.raises(OwnerProtected):  # a secret key (no user) with the admin role is not an owner either
        check_staff_change(actor_user_id=None, actor_roles=("admin",), target_user_id=other, target_role="owner")
    check_staff_change(actor_user_id=me, actor_roles=("owner",), target_user_id=other, target_role="owner")
    check_staff_change(actor_user_id=me, actor_roles=("admin",), target_user_id=other, target_role="merchant")


def test_role_change_rules() -> None:
    check_role_change(actor_roles=("admin",), current_role="support", new_role="merchant")
    check_role_change(actor_roles=("owner",), current_role="admin", new_role="owner")
    with pytest.raises(OwnerProtected):
        check_role_change(actor_roles=("admin",), current_role="admin", new_role="owner")
    with pytest.raises(InvalidRole):
        check_role_change(actor_roles=("owner",), current_role="customer", new_role="admin")
    with pytest.raises(InvalidRole):
        check_role_change(actor_roles=("owner",), current_role="admin", new_role="customer")


def test_country_codes() -> None:
    assert normalize_country("de") == "DE"
    assert normalize_country(" jp ") == "JP"
    for bad in ("XX", "ZZ", "DEU", "1A", ""):
        with pytest.raises(InvalidCountry):
            normalize_country(bad)


def test_phone_numbers() -> None:
    assert normalize_phone("+1 415 555 2671") == "+14155552671"
    assert normalize_phone("030 123456", region="DE") == "+4930123456"
    for bad in ("12345", "+1 000", "not a phone", "030 123456"):  # last: national without a region
        with pytest.raises(InvalidPhone):
            normalize_phone(bad)


def test_recovery_codes_are_distinct_and_normalise() -> None:
    codes = new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    for c in codes:
        assert len(c) == 19 and c.count("-") == 3
        assert normalize_recovery_code(c.upper().replace("-", " ")) == c
