"""The entry rule (code_for_entry) at its boundaries, and CodeLease."""

from __future__ import annotations

import pytest

from vaults.errors import TotpExpired, VaultsError
from vaults.totp import DEFAULT_MIN_REMAINING, CodeLease, code_at, code_for_entry, parse_secret

SECRET = parse_secret("JBSWY3DPEHPK3PXP")
WINDOW = 1_000_000_020  # divisible by 30: a window starts here
NEXT = WINDOW + 30


def test_default_is_twenty_seconds() -> None:
    assert DEFAULT_MIN_REMAINING == 20


def test_twenty_seconds_left_keeps_the_current_window() -> None:
    code = code_for_entry(SECRET, WINDOW + 10)  # exactly 20 s left
    assert (code.valid_from, code.valid_until) == (WINDOW, NEXT)
    assert code.code == code_at(SECRET, WINDOW).code


def test_nineteen_point_nine_seconds_left_gives_the_next_window() -> None:
    code = code_for_entry(SECRET, WINDOW + 10.1)  # 19.9 s left
    assert (code.valid_from, code.valid_until) == (NEXT, NEXT + 30)
    assert code.code == code_at(SECRET, NEXT).code
    assert code.code != code_at(SECRET, WINDOW).code
    assert code.seconds_left(WINDOW + 10.1) == pytest.approx(49.9)
    assert not code.is_valid(WINDOW + 10.1)  # not yet: it becomes valid at NEXT
    assert code.is_valid(NEXT)


def test_window_start_and_last_instant() -> None:
    assert code_for_entry(SECRET, WINDOW).valid_from == WINDOW
    assert code_for_entry(SECRET, NEXT - 0.001).valid_from == NEXT
    assert code_for_entry(SECRET, NEXT).valid_from == NEXT


def test_min_remaining_zero_never_skips() -> None:
    for offset in (0, 10, 29, 29.999):
        code = code_for_entry(SECRET, WINDOW + offset, min_remaining=0)
        assert code.valid_from == WINDOW, offset
        assert code.code == code_at(SECRET, WINDOW + offset).code


@pytest.mark.parametrize("min_remaining", [5, 15, 25])
def test_custom_min_remaining(min_remaining: float) -> None:
    boundary = NEXT - min_remaining
    assert code_for_entry(SECRET, boundary, min_remaining).valid_from == WINDOW
    assert code_for_entry(SECRET, boundary + 0.1, min_remaining).valid_from == NEXT


def test_skip_rule_with_a_long_period() -> None:
    secret = parse_secret("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=90")
    start = 1_000_000_080  # divisible by 90
    assert code_for_entry(secret, start + 70).valid_from == start  # 20 s left
    assert code_for_entry(secret, start + 70.5).valid_from == start + 90


def test_code_at_has_no_skip_rule() -> None:
    code = code_at(SECRET, NEXT - 1)
    assert (code.valid_from, code.valid_until) == (WINDOW, NEXT)
    assert code.secret() == SECRET


# -- CodeLease ---------------------------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_lease_hands_the_same_code_to_every_box() -> None:
    code = code_for_entry(SECRET, WINDOW + 1)
    clock = Clock(WINDOW + 1)
    lease = CodeLease(code, clock=clock)
    assert len(lease) == 6
    boxes = []
    for index in range(len(lease)):
        boxes.append(lease.digit(index))
        clock.now += 3  # typing takes time; the code does not change under the user
    assert "".join(boxes) == code.code
    assert lease.code == code.code
    assert lease.valid_until == NEXT


def test_lease_refuses_after_valid_until() -> None:
    code = code_for_entry(SECRET, WINDOW + 1)
    clock = Clock(NEXT - 0.01)
    lease = CodeLease(code, clock=clock)
    assert lease.digit(0) == code.code[0]
    clock.now = NEXT  # valid_until is exclusive
    with pytest.raises(TotpExpired) as info:
        lease.digit(1)
    assert isinstance(info.value, VaultsError)
    assert code.code not in str(info.value)
    with pytest.raises(TotpExpired):
        _ = lease.code


def test_lease_box_index_out_of_range() -> None:
    lease = CodeLease(code_for_entry(SECRET, WINDOW + 1), clock=Clock(WINDOW + 1))
    with pytest.raises(IndexError):
        lease.digit(6)
    with pytest.raises(IndexError):
        lease.digit(-1)


def test_lease_repr_has_no_code() -> None:
    code = code_for_entry(SECRET, WINDOW + 1)
    assert code.code not in repr(CodeLease(code))


def test_totp_code_lease_uses_wall_clock() -> None:
    stale = code_at(SECRET, WINDOW)  # long expired
    with pytest.raises(TotpExpired):
        stale.lease().digit(0)
    fresh = code_at(SECRET)
    assert fresh.lease().code == fresh.code
