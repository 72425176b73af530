"""Turn a 1Password item into the :class:`~vaults.models.Credential` a reference asks for.

- ``op://VAULT/ITEM``: username and password found by field ``purpose`` (``USERNAME``,
  ``PASSWORD``), the TOTP secret of the item's OTP field, the URLs, the other fields.
- ``op://VAULT/ITEM/[SECTION/]FIELD``: ``fields`` holds that one field; a username/password/OTP
  field also fills ``username`` / ``password`` / the TOTP.
- ``?attribute=otp`` (or ``totp``): only the TOTP of the (OTP) field or of the item.

The TOTP is computed locally from the OTP field's secret (``otpauth://`` or raw base32): the
credential carries ``totp_secret`` and the host computes the code. Only when no secret is
readable does the server-computed code (``totp``) become the credential's ``totp``.
"""

from __future__ import annotations

import time

from pydantic import SecretStr

from vaults.errors import AmbiguousItem, InvalidTotpSecret, ItemNotFound, NoCode
from vaults.models import Credential, CustomField, TotpCode, TotpSecret
from vaults.totp import parse_secret
from vaults_onepassword.items import ItemField, OnePasswordItem
from vaults_onepassword.references import OpRef

__all__ = ["SCHEME", "build_credential", "select_field", "server_code"]

SCHEME = "op"
_FIELD_TYPES = {
    "STRING": "text",
    "CONCEALED": "hidden",
    "EMAIL": "email",
    "URL": "url",
    "OTP": "otp",
    "TOTP": "otp",
    "DATE": "date",
    "MONTH_YEAR": "month_year",
    "MENU": "menu",
    "PHONE": "phone",
    "SSHKEY": "ssh_key",
}
_SERVER_PERIOD = 30


def server_code(code: str, now: float | None = None) -> TotpCode:
    """A code 1Password computed (period unknown: 1Password's default of 30 s is assumed)."""
    t = time.time() if now is None else now
    start = int(t // _SERVER_PERIOD) * _SERVER_PERIOD
    return TotpCode(
        code=code,
        valid_from=start,
        valid_until=start + _SERVER_PERIOD,
        period=_SERVER_PERIOD,
        digits=len(code),
    )


def _otp(
    item: OnePasswordItem, fld: ItemField
) -> tuple[TotpSecret | None, TotpCode | None, str | None]:
    """The parsed secret of an OTP field, else the server's code, else why there is no code
    (the login is still returned: ``totp_error``, never the secret)."""
    problem = "it has no secret and 1Password computed no code for it"
    if fld.value and fld.value.strip():
        try:
            return parse_secret(fld.value), None, None
        except InvalidTotpSecret as exc:
            problem = exc.message.removeprefix("invalid TOTP secret: ")
    if fld.totp:
        return None, server_code(fld.totp), None
    return None, None, f"the one-time password field of 1Password item '{item.title}': {problem}"


def _custom(fld: ItemField) -> CustomField:
    return CustomField(
        name=fld.name,
        value=SecretStr(fld.value) if fld.value is not None else None,
        type=_FIELD_TYPES.get(fld.type, fld.type.lower()),
        section=fld.section_label or fld.section_id,
        id=fld.id,
    )


def _section_matches(fld: ItemField, section: str) -> bool:
    if fld.section_id is None:
        return False
    wanted = section.casefold()
    return fld.section_id == section or (fld.section_label or "").casefold() == wanted


def select_field(item: OnePasswordItem, name: str, section: str | None = None) -> ItemField:
    """The field a reference names: an exact field id wins, else a case-insensitive label
    match that must be unique (labels repeat across sections; sections may lack labels)."""
    pool = [f for f in item.fields if section is None or _section_matches(f, section)]
    where = f" in section '{section}'" if section is not None else ""
    if section is not None and not pool:
        raise ItemNotFound(f"1Password item '{item.title}' has no section '{section}'")
    by_id = [f for f in pool if f.id == name]
    if len(by_id) == 1:
        return by_id[0]
    wanted = name.casefold()
    matches = [f for f in pool if (f.label or "").casefold() == wanted] or by_id
    if not matches:
        raise ItemNotFound(f"1Password item '{item.title}' has no field '{name}'{where}")
    if len(matches) > 1:
        sections = sorted({f.section_label or f.section_id or "(no section)" for f in matches})
        raise AmbiguousItem(
            f"{len(matches)} fields of 1Password item '{item.title}' are called '{name}'{where} "
            f"(sections: {', '.join(sections)}); name the section: op://VAULT/ITEM/SECTION/FIELD",
            [f.id for f in matches],
        )
    return matches[0]


def _credential(
    item: OnePasswordItem,
    *,
    username: str | None = None,
    password: str | None = None,
    fields: list[CustomField] | None = None,
    otp: ItemField | None = None,
) -> Credential:
    """One constructor call (``Credential`` validates on every assignment)."""
    totp_secret, totp, totp_error = _otp(item, otp) if otp is not None else (None, None, None)
    return Credential(
        vault=SCHEME,
        id=item.id,
        name=item.title,
        username=username,
        password=SecretStr(password) if password is not None else None,
        uris=list(item.urls),
        fields=fields or [],
        totp=totp,
        totp_secret=totp_secret,
        totp_error=totp_error,
    )


def _otp_only(item: OnePasswordItem, fld: ItemField | None, ref: OpRef) -> Credential:
    if fld is None:
        raise NoCode(f"1Password item '{item.title}' has no one-time password field")
    if not fld.is_otp:
        raise NoCode(
            f"field '{fld.name}' of 1Password item '{item.title}' is not a one-time password "
            f"field, so {ref.raw!r} has no code"
        )
    cred = _credential(item, otp=fld)
    if cred.totp is None and cred.totp_secret is None:  # only the code was asked for
        raise NoCode(cred.totp_error or f"{ref.raw!r} has no code")
    return cred


def build_credential(item: OnePasswordItem, ref: OpRef) -> Credential:
    """The credential ``ref`` asks for, out of ``item``."""
    if item.archived:
        raise ItemNotFound(f"1Password item '{ref.item}' is archived")
    if ref.field is not None:
        fld = select_field(item, ref.field, ref.section)
        if ref.otp:
            return _otp_only(item, fld, ref)
        return _credential(
            item,
            username=fld.value if fld.purpose == "USERNAME" else None,
            password=fld.value if fld.purpose == "PASSWORD" else None,
            fields=[_custom(fld)],
            otp=fld if fld.is_otp else None,
        )
    otp = item.otp_field()
    if ref.otp:
        return _otp_only(item, otp, ref)
    username = item.by_purpose("USERNAME")
    password = item.by_purpose("PASSWORD")
    return _credential(
        item,
        username=username.value if username else None,
        password=password.value if password else None,
        fields=[
            _custom(f)
            for f in item.fields
            if f is not username and f is not password and not f.is_otp
        ],
        otp=otp,
    )
