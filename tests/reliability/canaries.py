"""Canary secrets (one per kind) and the ledger that counts leak-checked paths.

Every canary is distinct and recognisable, so a leak report names the kind that leaked. A
*path* is one error path (or success path) seen through one *surface*: the exception (str,
repr, formatted traceback with its causes), the log records (every logger, DEBUG), a CLI
run's stdout+stderr, an HTTP error body, a credential's repr/str/JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from vaults.testing.leaks import Exposure, error_texts, find_leaks, record_texts

__all__ = ["ALL", "ENV_CANARIES", "LeakLedger"]

PASSWORD = "CanaryItemPassw0rd-q7Xv"
PASSWORD_2 = "CanaryTwinPassw0rd-k2Lm"
TOTP_SECRET = "CANARYTOTPSECRETJBSWY3DPEHPK3PXP"  # valid base32
BAD_TOTP = "CANARYBADTOTP!!0189@@SECRET"  # not base32: parsing must fail without echoing it
FIELD_SECRET = "CanaryHiddenFieldValue-3Fq"
BW_SESSION = "CanaryBwSessionKey+ZmFrZS1zZXNzaW9u=="
BW_PASSWORD = "CanaryBwMasterPassword-8Kd"
BW_CLIENTSECRET = "CanaryBwClientSecret-Hk4Tz"
OP_CONNECT_TOKEN = "eyJhbGciOiJFUzI1NiJ9.CanaryConnectToken.c2lnbmF0dXJl"
OP_SERVICE_ACCOUNT_TOKEN = "ops_CanaryServiceAccountToken-Zz9"
VAULTS_API_KEY = "CanaryVaultsApiKey-4f2e91"
PULL_API_KEY = "CanaryPullApiKey-77aa31"
KEEPASS_MASTER = "CanaryKeePassMaster-31Qp"
WRONG_SECRET = "CanaryWrongSecretTyped-6Rt"  # a wrong password/token the user supplied
STORE_PASSWORD = "CanaryStorePassword-5Wn"
URL_TOKEN = "CanaryUrlQueryToken-9Hb"
MAGIC_TOKEN = "Cq8Z7pWn4Rt2Xk29Lq8Z7pWn4Rt2"  # random-looking: a real magic-link token

ALL: dict[str, str] = {
    PASSWORD: "item password",
    PASSWORD_2: "second item password",
    TOTP_SECRET: "TOTP secret",
    TOTP_SECRET.lower(): "TOTP secret (lower case)",
    BAD_TOTP: "malformed TOTP secret",
    FIELD_SECRET: "hidden field value",
    BW_SESSION: "BW_SESSION",
    BW_PASSWORD: "BW_PASSWORD",
    BW_CLIENTSECRET: "BW_CLIENTSECRET",
    OP_CONNECT_TOKEN: "OP_CONNECT_TOKEN",
    OP_SERVICE_ACCOUNT_TOKEN: "OP_SERVICE_ACCOUNT_TOKEN",
    VAULTS_API_KEY: "VAULTS_API_KEY",
    PULL_API_KEY: "pull endpoint API key",
    KEEPASS_MASTER: "KeePass master password",
    WRONG_SECRET: "wrong password/token typed",
    STORE_PASSWORD: "store URL password",
    URL_TOKEN: "token in a URL query",
    MAGIC_TOKEN: "magic-link token",
}

ENV_CANARIES: dict[str, str] = {
    "BW_SESSION": BW_SESSION,
    "BW_PASSWORD": BW_PASSWORD,
    "BW_CLIENTSECRET": BW_CLIENTSECRET,
    "OP_CONNECT_TOKEN": OP_CONNECT_TOKEN,
    "OP_SERVICE_ACCOUNT_TOKEN": OP_SERVICE_ACCOUNT_TOKEN,
    "VAULTS_API_KEY": VAULTS_API_KEY,
    "VAULTS_KEEPASS_PASSWORD": KEEPASS_MASTER,
}
"""Set in the environment of every CLI run (each credential variable a user may export)."""


@dataclass
class LeakLedger:
    """Counts checked paths, collects leaks (redacted), records them for the report."""

    group: str
    paths: int = 0
    problems: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def check(self, path: str, surface: str, exposures: Iterable[Exposure]) -> None:
        self.paths += 1
        self.seen.append(f"{path} [{surface}]")
        self.problems += [f"{path} [{surface}]: {p}" for p in find_leaks(exposures, ALL)]

    def error(
        self,
        path: str,
        call: Callable[[], Any],
        caplog: Any,
        expect: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    ) -> BaseException:
        """Run ``call``, which must raise ``expect``; check the exception and the logs."""
        caplog.clear()
        try:
            call()
        except expect as exc:
            self.check(path, "exception", error_texts(path, exc))
            self.check(path, "log", record_texts(caplog.records))
            return exc
        raise AssertionError(f"{path}: no {expect} raised")

    def errors(self, path: str, results: Iterable[Any], caplog: Any) -> None:
        """The errors a batch call returned in place (``resolve_many``)."""
        texts: list[Exposure] = []
        for n, result in enumerate(results):
            if isinstance(result, BaseException):
                texts += error_texts(f"{path} #{n}", result)
            else:
                texts += credential_texts(f"{path} #{n}", result)
        self.check(path, "returned errors", texts)
        self.check(path, "log", record_texts(caplog.records))

    def ok(self, path: str, call: Callable[[], Any], caplog: Any) -> Any:
        """Run ``call``, which must return a credential; check its shown forms and the logs."""
        caplog.clear()
        credential = call()
        self.check(path, "credential repr/str/JSON", credential_texts(path, credential))
        self.check(path, "log", record_texts(caplog.records))
        return credential

    def either(self, path: str, call: Callable[[], Any], caplog: Any) -> None:
        """Run ``call`` (odd input: a credential or a typed error are both fine); check both."""
        caplog.clear()
        try:
            result = call()
        except Exception as exc:
            self.check(path, "exception", error_texts(path, exc))
        else:
            self.check(path, "credential repr/str/JSON", credential_texts(path, result))
        self.check(path, "log", record_texts(caplog.records))

    def texts(self, path: str, surface: str, *texts: str) -> None:
        self.check(path, surface, [Exposure(f"{path} {surface}", t) for t in texts])

    def record(self, report: Any) -> None:
        surfaces = sorted({seen.rsplit(" [", 1)[1].rstrip("]") for seen in self.seen})
        report.record(
            "leaks",
            self.group,
            checked=self.paths,
            failures=len(self.problems),
            detail=f"{len({s.rsplit(' [', 1)[0] for s in self.seen})} paths x surfaces: "
            + ", ".join(surfaces),
        )

    def assert_clean(self) -> None:
        assert not self.problems, "secrets leaked:\n" + "\n".join(self.problems)


def credential_texts(where: str, credential: Any) -> list[Exposure]:
    found = [
        Exposure(f"repr() of {where}", repr(credential)),
        Exposure(f"str() of {where}", str(credential)),
    ]
    if hasattr(credential, "model_dump_json"):
        found.append(Exposure(f"model_dump_json() of {where}", credential.model_dump_json()))
    if hasattr(credential, "public_dict"):
        found.append(
            Exposure(f"public_dict() of {where}", json.dumps(credential.public_dict(), default=str))
        )
    return found


def debug_logging(caplog: Any) -> None:
    """Capture every logger at DEBUG (loggers with a level of their own included)."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        logger = logging.getLogger(name)
        if logger.level > logging.DEBUG:
            caplog.set_level(logging.DEBUG, logger=name)
