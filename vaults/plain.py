"""Plain (pydantic-free) twins of the models, for the CLI's fast path.

Importing pydantic costs about three times a bare interpreter's start, more than a whole
``vaults resolve`` may take. A backend that wants the fast path implements
:meth:`vaults.backend.VaultBackend.fetch_plain` and builds a :class:`PlainCredential` (same
fields, same meaning as :class:`vaults.models.Credential`; secrets wrapped in :class:`Secret`,
the TOTP secret as parsed :class:`~vaults.totp_core.OtpParams`). The host computes the code
on it and turns it into the pydantic :class:`~vaults.models.Credential` only when a caller
asks for one (:meth:`PlainCredential.to_credential`); the CLI prints it as it is.

The JSON shapes (:func:`credential_dict`, :func:`field_dict`, :func:`code_dict`) live here so
that the pydantic models and these twins print the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from vaults.secret import Secret

if TYPE_CHECKING:  # typing only: this module is on the CLI's start-up path
    from typing import Protocol

    from vaults.models import Credential, CustomField, TotpCode, TotpSecret
    from vaults.secret import SecretLike as SecretLike
    from vaults.totp_core import OtpParams

    class _FieldLike(Protocol):
        @property
        def name(self) -> str: ...
        @property
        def type(self) -> str: ...
        @property
        def section(self) -> str | None: ...
        @property
        def value(self) -> SecretLike | None: ...

    class _CodeLike(Protocol):
        @property
        def code(self) -> str: ...
        @property
        def valid_from(self) -> int: ...
        @property
        def valid_until(self) -> int: ...
        @property
        def period(self) -> int: ...
        @property
        def digits(self) -> int: ...

    class _CredentialLike(Protocol):
        ref: str | None
        vault: str
        id: str
        name: str
        username: str | None
        magic_link: str | None
        totp_error: str | None

        @property
        def password(self) -> SecretLike | None: ...
        @property
        def uris(self) -> list[str]: ...
        @property
        def totp_source(self) -> str | None: ...


__all__ = [
    "MASK",
    "PlainCode",
    "PlainCredential",
    "PlainField",
    "Secret",
    "code_dict",
    "credential_dict",
    "field_dict",
]

MASK = "********"
"""How unrevealed passwords and hidden fields print."""
_SHOWN_TYPES = frozenset({"text", "boolean", "linked", "url", "email"})


# -- the JSON shapes, shared with vaults.models ---------------------------------------------
def _without_credentials(url: str) -> str:
    """A pull-endpoint URL as shown unrevealed: no user part, query or fragment (tokens)."""
    from urllib.parse import urlsplit

    from vaults.redact import url_without_secrets

    try:
        shown = url_without_secrets(url)
        parts = urlsplit(url)
    except ValueError:
        return MASK
    hidden = parts.query or parts.fragment or "@" in parts.netloc
    return shown + ("?…" if hidden else "")


def field_dict(f: _FieldLike, *, reveal: bool = False) -> dict[str, Any]:
    """A custom field as JSON: hidden-type values masked unless ``reveal``."""
    value: str | None
    if f.value is None:
        value = None
    elif reveal or f.type in _SHOWN_TYPES:
        value = f.value.get_secret_value()
        if not reveal and f.name.casefold() == "totp_url":
            value = _without_credentials(value)
    else:
        value = MASK
    return {"name": f.name, "value": value, "type": f.type, "section": f.section}


def code_dict(c: _CodeLike) -> dict[str, Any]:
    """A code and its window as JSON."""
    return {
        "code": c.code,
        "valid_from": c.valid_from,
        "valid_until": c.valid_until,
        "period": c.period,
        "digits": c.digits,
    }


def credential_dict(
    cred: _CredentialLike,
    totp: dict[str, Any] | None,
    fields: list[dict[str, Any]],
    *,
    reveal: bool = False,
) -> dict[str, Any]:
    """The documented JSON shape of a credential; the password is masked unless ``reveal``."""
    password: str | None
    if cred.password is None:
        password = None
    elif reveal:
        password = cred.password.get_secret_value()
    else:
        password = MASK
    data: dict[str, Any] = {
        "ref": cred.ref,
        "vault": cred.vault,
        "id": cred.id,
        "name": cred.name,
        "username": cred.username,
        "password": password,
        "uris": list(cred.uris),
        "totp": totp,
    }
    data["totp_source"] = cred.totp_source  # always there: null without a code
    if cred.totp_error is not None:
        data["totp_error"] = cred.totp_error
    if cred.magic_link is not None:
        data["magic_link"] = cred.magic_link
    data["fields"] = fields  # always, [] if none
    return data


# -- the twins ------------------------------------------------------------------------------
class PlainField(NamedTuple):
    """:class:`~vaults.models.CustomField` without pydantic (a named tuple: building a
    dataclass at import costs the CLI's cold start more than this whole module)."""

    name: str
    value: Secret | None = None
    type: str = "text"
    section: str | None = None
    id: str | None = None

    def public_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        return field_dict(self, reveal=reveal)

    def hidden(self) -> PlainField:
        """The same field with type ``hidden`` (masked in every output)."""
        return self._replace(type="hidden")

    def to_model(self) -> CustomField:
        from pydantic import SecretStr

        from vaults.models import CustomField

        value = None if self.value is None else SecretStr(self.value.get_secret_value())
        return CustomField(
            name=self.name, value=value, type=self.type, section=self.section, id=self.id
        )


class PlainCode(NamedTuple):
    """:class:`~vaults.models.TotpCode` without pydantic (``code`` and the secret's
    ``params`` kept out of ``repr``)."""

    code: str
    valid_from: int
    valid_until: int
    period: int
    digits: int
    params: OtpParams | None = None

    def __repr__(self) -> str:
        return (
            f"PlainCode(valid_from={self.valid_from}, valid_until={self.valid_until}, "
            f"period={self.period}, digits={self.digits})"
        )

    def __str__(self) -> str:
        return self.__repr__()

    @classmethod
    def for_entry(cls, params: OtpParams, now: float, min_remaining: float) -> PlainCode:
        """The code to type at ``now`` (the entry rule of :func:`vaults.totp.code_for_entry`)."""
        from vaults.totp_core import check_time, code_for_counter, entry_counter

        counter = entry_counter(params.period, check_time(now), min_remaining)
        return cls(
            code=code_for_counter(params, counter),
            valid_from=counter * params.period,
            valid_until=(counter + 1) * params.period,
            period=params.period,
            digits=params.digits,
            params=params,
        )

    def public_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        data = code_dict(self)
        if reveal and self.params is not None:
            from vaults.totp_core import otpauth_uri

            data["secret"] = otpauth_uri(self.params)
        return data

    def to_model(self) -> TotpCode:
        from vaults.models import TotpCode

        code = TotpCode(
            code=self.code,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            period=self.period,
            digits=self.digits,
        )
        if self.params is not None:
            code._secret = _secret_model(self.params)
        return code


def _secret_model(params: OtpParams) -> TotpSecret:
    from vaults.totp import secret_model

    return secret_model(params)


@dataclass
class PlainCredential:
    """:class:`~vaults.models.Credential` without pydantic: what a backend's
    :meth:`~vaults.backend.VaultBackend.fetch_plain` returns. ``totp_secret`` is the parsed
    secret (:func:`vaults.totp_core.parse_totp`), never part of ``repr``."""

    vault: str
    id: str
    name: str
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    uris: list[str] = field(default_factory=list)
    fields: list[PlainField] = field(default_factory=list)
    totp: PlainCode | None = None
    totp_source: Literal["vault", "server", "pull", "inbox"] | None = None
    magic_link: str | None = field(default=None, repr=False)
    ref: str | None = None
    totp_secret: OtpParams | None = field(default=None, repr=False)
    totp_error: str | None = None
    reprompt: bool = False

    def field(self, name: str) -> PlainField | None:
        """The first custom field called ``name`` (case-insensitive)."""
        wanted = name.casefold()
        for f in self.fields:
            if f.name.casefold() == wanted:
                return f
        return None

    def public_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        """The documented JSON shape (as :meth:`vaults.models.Credential.public_dict`)."""
        totp = self.totp.public_dict(reveal=reveal) if self.totp else None
        fields = [f.public_dict(reveal=reveal) for f in self.fields]
        return credential_dict(self, totp, fields, reveal=reveal)

    def to_credential(self) -> Credential:
        """The pydantic :class:`~vaults.models.Credential` (imports pydantic)."""
        from pydantic import SecretStr

        from vaults.models import Credential

        password = None if self.password is None else SecretStr(self.password.get_secret_value())
        return Credential(
            vault=self.vault,
            id=self.id,
            name=self.name,
            username=self.username,
            password=password,
            uris=list(self.uris),
            fields=[f.to_model() for f in self.fields],
            totp=self.totp.to_model() if self.totp is not None else None,
            totp_source=self.totp_source,
            magic_link=self.magic_link,
            ref=self.ref,
            totp_secret=_secret_model(self.totp_secret) if self.totp_secret else None,
            totp_error=self.totp_error,
            reprompt=self.reprompt,
        )
