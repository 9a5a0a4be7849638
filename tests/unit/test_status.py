import itertools

import pytest

from serviceguide.domain.errors import TransitionNotAllowed
from serviceguide.domain.status import (
    ALLOWED_TRANSITIONS,
    OrderStatus,
    check_transition,
    is_allowed,
    next_statuses,
)

pytestmark = pytest.mark.unit
S = OrderStatus

# docs/api.md ("Status machine"), written out pair by pair so that the table in the code is
# checked against an independent statement of the rule rather than against itself.
ALLOWED = {
    (S.NEW, S.RECEIVED),
    (S.NEW, S.ACTIVE),
    (S.NEW, S.WAITING),
    (S.NEW, S.CANCELLED),
    (S.NEW, S.DELIVERED),
    (S.RECEIVED, S.ACTIVE),
    (S.RECEIVED, S.WAITING),
    (S.RECEIVED, S.CANCELLED),
    (S.RECEIVED, S.DELIVERED),
    (S.ACTIVE, S.WAITING),
    (S.ACTIVE, S.CANCELLED),
    (S.ACTIVE, S.DELIVERED),
    (S.WAITING, S.ACTIVE),
    (S.WAITING, S.CANCELLED),
    (S.WAITING, S.DELIVERED),
}


@pytest.mark.parametrize("current,new", list(itertools.product(S, S)))
def test_every_pair_of_statuses_follows_the_contract(current, new):
    if current == new:
        assert check_transition(current, new) is False  # allowed, but not a change
    elif (current, new) in ALLOWED:
        assert check_transition(current, new) is True
    else:
        with pytest.raises(TransitionNotAllowed) as e:
            check_transition(current, new)
        assert current.value in str(e.value) and new.value in str(e.value)


def test_final_statuses_have_no_way_out():
    assert ALLOWED_TRANSITIONS[S.DELIVERED] == frozenset()
    assert ALLOWED_TRANSITIONS[S.CANCELLED] == frozenset()


def test_nothing_returns_to_new_or_received():
    for current in S:
        if current not in (S.NEW, S.RECEIVED):
            assert not is_allowed(current, S.NEW)
            assert not is_allowed(current, S.RECEIVED)
    assert not is_allowed(S.RECEIVED, S.NEW)


def test_next_statuses_lists_only_real_changes_in_enum_order():
    assert next_statuses(S.WAITING) == [S.ACTIVE, S.CANCELLED, S.DELIVERED]
    assert next_statuses(S.DELIVERED) == []
