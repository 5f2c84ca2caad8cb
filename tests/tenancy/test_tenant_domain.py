import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.platform.errors import IllegalTransition
from mercato.tenancy.domain import TENANT_TRANSITIONS, check_transition

STATES = sorted(TENANT_TRANSITIONS)


@given(st.sampled_from(STATES), st.sampled_from([*STATES, "deleted", ""]))
def test_transitions_follow_the_table(current: str, target: str) -> None:
    if target in TENANT_TRANSITIONS[current]:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition) as exc:
            check_transition(current, target)
        assert exc.value.extra["allowed_transitions"] == sorted(TENANT_TRANSITIONS[current])
        assert exc.value.status == 409
