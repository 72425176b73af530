"""The leak checker finds secrets wherever they hide and never prints them itself."""

from __future__ import annotations

import logging

import pytest

from vaults.errors import ItemNotFound
from vaults.testing.leaks import (
    Exposure,
    assert_no_leak,
    error_texts,
    find_leaks,
    record_texts,
)

SECRET = "hunter2-VAULTSCANARY"


def test_clean_texts_pass() -> None:
    assert_no_leak([Exposure("repr", "Credential(password=SecretStr('**********'))")], [SECRET])


def test_a_leak_is_reported_with_where_and_label_but_redacted() -> None:
    exposures = [Exposure("repr() of x", f"X(password={SECRET!r}, other='VAULTSCANARY')")]
    problems = find_leaks(exposures, {SECRET: "password of 'a'", "VAULTSCANARY": "canary"})
    assert problems == [
        "repr() of x: the password of 'a' appears in …X(password='<password of 'a'>', "
        "other='<canary>')…"
    ]
    with pytest.raises(AssertionError) as caught:
        assert_no_leak(exposures, [SECRET])
    assert SECRET not in str(caught.value)
    assert "secret #0 (20 chars)" in str(caught.value)


def test_error_texts_cover_causes() -> None:
    try:
        try:
            raise KeyError(SECRET)
        except KeyError as inner:
            raise ItemNotFound("no item 'GitHub'") from inner
    except ItemNotFound as exc:
        texts = error_texts("the error", exc)
    problems = find_leaks(texts, [SECRET])
    assert problems and problems[0].startswith("traceback of the error:")


def test_record_texts_cover_args_and_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("vaults.test.leaks")
    with caplog.at_level(logging.DEBUG):
        log.debug("looking up %s", SECRET)
        try:
            raise ValueError(SECRET)
        except ValueError:
            log.exception("failed")
    problems = find_leaks(record_texts(caplog.records), [SECRET])
    wheres = [problem.split(": the ")[0] for problem in problems]
    assert len(wheres) == 3  # the debug message, its raw args, the exception's traceback
    assert sum(":DEBUG " in w for w in wheres) == 2 and sum(":ERROR " in w for w in wheres) == 1


def test_unformattable_records_are_still_checked() -> None:
    record = logging.LogRecord("x", logging.INFO, "f.py", 1, "%d items", (SECRET,), None)
    assert find_leaks(record_texts([record]), [SECRET])
