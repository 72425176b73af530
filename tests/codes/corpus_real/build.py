"""Render tests/codes/corpus_real.jsonl from the vendored templates and translations in data/.

Every message is what the named software sends, with its placeholders filled in: codes in the
format that software generates (django-allauth's dashed consonant codes, Authelia's 8-character
codes, PocketBase's 8 digits ...), links shaped like that software's URLs, user names, hosts.
Each line names the repository file its wording comes from (``source``). Random values come from
a fixed seed, so the output is reproducible: ``python tests/codes/corpus_real/build.py``.

Labels: a login / verification code or a sign-in / e-mail-confirmation link is the expected
answer; password resets, account recovery, invitations, notices and alerts expect None.
"""

from __future__ import annotations

import html
import itertools
import json
import random
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
OUT = HERE.parent / "corpus_real.jsonl"

SEED = 20260311
rng = random.Random(SEED)
Entry = dict[str, Any]

_CONSONANTS = "BCDFGHJKLMNPQRSTVWXZ"
_UPPER_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_NAMES = ["Ann Lee", "María García", "Kenji Sato", "Olga Ivanova", "Amir Haddad", "Lena Müller"]
_HOSTS = ["example.com", "shop.example.org", "app.example.net", "portal.example.io"]


def digits(n: int) -> str:
    while True:
        value = "".join(rng.choice("0123456789") for _ in range(n))
        steps = {int(b) - int(a) for a, b in itertools.pairwise(value)}
        if steps not in ({0}, {1}, {-1}):
            return value


def letters(alphabet: str, n: int) -> str:
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(n))
        if alphabet is not _UPPER_ALNUM or any(c.isdigit() for c in value):
            return value


def token(n: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(n))
        if n < 6 or (sum(c.isdigit() for c in value) >= 2 and sum(c.isalpha() for c in value) >= 2):
            return value


def hexstr(n: int) -> str:
    return token(n, "0123456789abcdef")


def jwt() -> str:
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return f"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{token(120, b64)}.{token(43, b64)}"


def code_answer(value: str) -> dict[str, str]:
    return {"otp_type": "totp", "value": re.sub(r"[\s-]", "", value)}


def link_answer(url: str) -> dict[str, str]:
    return {"otp_type": "magic_link", "value": url}


def entry(
    source: str, template: str, lang: str, kind: str, content: str, expected: dict[str, str] | None
) -> Entry:
    lang = {"zh-cn": "zh-hans", "zh-tw": "zh-hant"}.get(
        lang.lower().replace("_", "-"), lang.lower().replace("_", "-")
    )
    return {
        "id": "",
        "source": source,
        "template": template,
        "lang": lang,
        "kind": kind,
        "content": content,
        "expected": expected,
    }


def html_page(subject: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
        + html.escape(subject)
        + "</title></head>\n<body>\n"
        + body
        + "\n</body></html>\n"
    )


# --------------------------------------------------------------------------- Appwrite
APPWRITE = "appwrite/appwrite"


def _aw_fill(text: str, values: dict[str, str], *, as_html: bool) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "b":
            return "<b>" if as_html else ""
        if name == "/b":
            return "</b>" if as_html else ""
        return values.get(name, m.group(0))

    return re.sub(r"\{\{\s*(/?\w+)\s*\}\}", sub, text)


def appwrite() -> Iterator[Entry]:
    templates = {
        p.stem: p.read_text(encoding="utf-8") for p in (DATA / "appwrite/templates").glob("*.tpl")
    }
    english = json.loads((DATA / "appwrite/translations/en.json").read_text(encoding="utf-8"))
    kinds = {
        "otpSession": ("email-otp", "code"),
        "mfaChallenge": ("email-mfa-challenge", "code"),
        "magicSession": ("email-magic-url", "link"),
        "verification": ("email-inner-base", "link"),
        "recovery": ("email-inner-base", "none"),
        "invitation": ("email-inner-base", "none"),
    }
    for path in sorted((DATA / "appwrite/translations").glob("*.json")):
        lang = path.stem
        strings = json.loads(path.read_text(encoding="utf-8"))
        source = f"{APPWRITE}:app/config/locale/translations/{path.name}"
        for kind, (tpl, answer) in kinds.items():
            prefix = f"emails.{kind}."
            own = {k[len(prefix) :]: v for k, v in strings.items() if k.startswith(prefix)}
            if not own or (lang != "en" and len(own) < 3):
                continue
            merged = {k[len(prefix) :]: v for k, v in english.items() if k.startswith(prefix)}
            merged.update(own)
            host = rng.choice(_HOSTS)
            project = rng.choice(["Acme", "Notely", "Fotobox", "Kanban Cloud"])
            user_id = hexstr(20)
            values = {
                "project": project,
                "user": rng.choice(_NAMES),
                "agentClient": "Chrome 131.0",
                "agentDevice": "desktop",
                "agentOs": "Windows 11",
                "phrase": rng.choice(["Amber Falcon", "Quiet Harbor", "Silver Maple"]),
                "team": "Design",
                "owner": "Ann Lee",
            }
            expected: dict[str, str] | None = None
            if answer == "code":
                otp = digits(6)
                values["otp"] = otp
                expected = code_answer(otp)
            else:
                route = {
                    "magicSession": "auth/magic-url",
                    "verification": "verify-email",
                    "recovery": "reset-password",
                    "invitation": "join-team",
                }[kind]
                url = (
                    f"https://{host}/{route}?userId={user_id}&secret={hexstr(64)}"
                    f"&expire=2026-03-11+10%3A15%3A00.000&project=6{hexstr(19)}"
                )
                values["redirect"] = url
                expected = link_answer(url) if answer == "link" else None
            filled = {
                k: _aw_fill(v, values, as_html=True).replace("\n", "<br>")
                for k, v in merged.items()
            }
            body = _aw_fill(templates[tpl], {**values, **filled}, as_html=True)
            subject = filled.get("subject", "")
            yield entry(
                source,
                f"{APPWRITE}:app/config/locale/templates/{tpl}.tpl",
                lang,
                "email-html",
                html_page(subject, body),
                expected,
            )


# --------------------------------------------------------------------------- django-allauth
ALLAUTH = "pennersr/django-allauth"
_BLOCKTRANS = re.compile(
    r"\{% blocktrans(?:late)?[^%]*%\}(.*?)\{% endblocktrans(?:late)? %\}", re.S
)


def _allauth_render(name: str, catalogue: dict[str, str], ctx: dict[str, str]) -> str:
    tdir = DATA / "django-allauth/templates/account/email"
    text = (tdir / name).read_text(encoding="utf-8")
    parent = re.search(r'\{% extends "account/email/(\w+\.txt)" %\}', text)
    if parent:
        blocks = dict(re.findall(r"\{% block (\w+) %\}(.*?)\{% endblock(?: \w+ ?)?%\}", text, re.S))
        base = (tdir / parent.group(1)).read_text(encoding="utf-8")
        if "{% extends" in base:  # base_notification extends base_message
            inner = base
            for bname, bbody in blocks.items():
                inner = re.sub(
                    r"\{% block " + bname + r" %\}.*?\{% endblock ?\w* ?%\}",
                    lambda _m, b=bbody: b,
                    inner,
                    flags=re.S,
                )
            return _allauth_render_text(inner, catalogue, ctx, tdir)
        for bname, bbody in blocks.items():
            base = re.sub(
                r"\{% block " + bname + r" %\}.*?\{% endblock ?\w* ?%\}",
                lambda _m, b=bbody: b,
                base,
                flags=re.S,
            )
        text = base
    return _allauth_text(text, catalogue, ctx)


def _allauth_render_text(
    inner: str, catalogue: dict[str, str], ctx: dict[str, str], tdir: Path
) -> str:
    blocks = dict(re.findall(r"\{% block (\w+) %\}(.*?)\{% endblock(?: \w+ ?)?%\}", inner, re.S))
    base = (tdir / "base_message.txt").read_text(encoding="utf-8")
    for bname, bbody in blocks.items():
        base = re.sub(
            r"\{% block " + bname + r" %\}.*?\{% endblock ?\w* ?%\}",
            lambda _m, b=bbody: b,
            base,
            flags=re.S,
        )
    return _allauth_text(base, catalogue, ctx)


def _allauth_text(text: str, catalogue: dict[str, str], ctx: dict[str, str]) -> str:
    def cond(m: re.Match[str]) -> str:
        return m.group(2) if ctx.get(m.group(1)) else m.group(3)

    text = re.sub(r"\{% if (\w+) %\}(.*?)\{% else %\}(.*?)\{% endif %\}", cond, text, flags=re.S)
    text = re.sub(
        r"\{% if (\w+) %\}(.*?)\{% endif %\}",
        lambda m: m.group(2) if ctx.get(m.group(1)) else "",
        text,
        flags=re.S,
    )

    def trans(m: re.Match[str]) -> str:
        msgid = re.sub(r"\{\{\s*(\w+)\s*\}\}", r"%(\1)s", m.group(1))
        msg = catalogue.get(msgid) or msgid
        return re.sub(r"%\((\w+)\)s", lambda v: ctx.get(v.group(1), ""), msg)

    text = _BLOCKTRANS.sub(trans, text)
    text = re.sub(r"\{%.*?%\}", "", text)
    text = re.sub(r"\{\{\s*([\w.]+)\s*\}\}", lambda v: ctx.get(v.group(1).split(".")[-1], ""), text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def allauth() -> Iterator[Entry]:
    for path in sorted((DATA / "django-allauth/locale").glob("*.json")):
        lang = path.stem
        catalogue = json.loads(path.read_text(encoding="utf-8"))
        source = f"{ALLAUTH}:allauth/locale/{lang}/LC_MESSAGES/django.po"
        host = rng.choice(_HOSTS)
        base = {
            "site_name": host.split(".")[0].title(),
            "site_domain": host,
            "name": host.split(".")[0].title(),
            "domain": host,
            "user_display": "ann",
            "email": "ann@example.com",
            "username": "ann",
            "ip": "203.0.113.7",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
            "timestamp": "2026-03-11 09:14",
            "from_email": "ann@example.com",
            "to_email": "ann.lee@example.com",
        }
        msgs = [
            ("login_code_message.txt", "Sign-In Code", "code"),
            ("email_confirmation_message.txt", "Please Confirm Your Email Address", "code"),
            ("email_confirmation_message.txt", "Please Confirm Your Email Address", "link"),
            ("password_reset_key_message.txt", "Password Reset Email", "none"),
            ("unknown_account_message.txt", "Unknown Account", "none"),
        ]
        for name, subject_id, answer in msgs:
            if (
                name == "unknown_account_message.txt"
                and "If it was you, you can sign up for an account using the link below."
                not in catalogue
            ):
                continue
            ctx = dict(base)
            expected: dict[str, str] | None = None
            if answer == "code":
                raw = letters(_CONSONANTS, 8)
                ctx["code"] = f"{raw[:4]}-{raw[4:]}"
                expected = code_answer(raw)
            elif name == "email_confirmation_message.txt":
                pk, stamp = token(4), token(5)  # keep this order: the seed's sequence
                key = token(43, string.ascii_letters + string.digits + "_-")
                url = f"https://{host}/accounts/confirm-email/{pk}:1t{stamp}:{key}/"
                ctx["activate_url"] = url
                expected = link_answer(url)
            else:
                ctx["password_reset_url"] = (
                    f"https://{host}/accounts/password/reset/key/{digits(2)}-{token(6)}-{hexstr(32)}/"
                )
                ctx["signup_url"] = f"https://{host}/accounts/signup/"
            subject = catalogue.get(subject_id, subject_id)
            body = _allauth_render(name, catalogue, ctx)
            yield entry(
                source,
                f"{ALLAUTH}:allauth/templates/account/email/{name}",
                lang,
                "email",
                f"Subject: [{host}] {subject}\n\n{body}",
                expected,
            )


# --------------------------------------------------------------------------- Go templates
def _go_fill(text: str, values: dict[str, str], translate: dict[str, str] | None = None) -> str:
    text = re.sub(
        r"\{\{-?\s*if \.(\w+)\s*\}\}\n?(.*?)\{\{-?\s*end\s*-?\}\}\n?",
        lambda m: m.group(2) if values.get(m.group(1)) else "",
        text,
        flags=re.S,
    )
    if translate is not None:
        text = re.sub(
            r'\{\{\s*t "(\w+)" \.\s*\}\}',
            lambda m: _go_fill(translate.get(m.group(1), ""), values),
            text,
        )
    return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), text)


KRATOS = "ory/kratos"


def kratos() -> Iterator[Entry]:
    base = DATA / "ory-kratos"
    src = "courier/template/courier/builtin/templates/"
    flow = "2f7a3c1e-6d5b-4f0a-9a8e-0c1d2e3f4a5b"
    plan = [
        (
            "login_code/valid/email.body.gotmpl",
            "login_code/valid/email.subject.gotmpl",
            "code",
            "LoginCode",
        ),
        ("login_code/valid/sms.body.gotmpl", None, "code", "LoginCode"),
        ("otp/sms.body.gotmpl", None, "code", "Code"),
        ("registration_code/valid/email.body.plaintext.gotmpl", None, "code", "RegistrationCode"),
        ("verification_code/valid/email.body.plaintext.gotmpl", None, "code", "VerificationCode"),
        ("verification_code/valid/sms.body.gotmpl", None, "code", "VerificationCode"),
        ("verification/valid/email.body.plaintext.gotmpl", None, "link", "VerificationURL"),
        ("recovery/valid/email.body.plaintext.gotmpl", None, "none", "RecoveryURL"),
        ("recovery/invalid/email.body.plaintext.gotmpl", None, "none", ""),
        ("verifiable_address_changed/email.body.plaintext.gotmpl", None, "none", ""),
    ]
    for rel, subject_rel, answer, field in plan:
        for variant in range(2):
            values = {
                "ExpiresInMinutes": "15",
                "ChangedAt": "2026-03-11T09:14:00Z",
                "RequestURLDomain": "auth.example.com" if variant else "",
            }
            expected: dict[str, str] | None = None
            code = digits(6)
            kind = "sms" if "sms" in rel else "email"
            route = "recovery" if "recovery" in rel else "verification"
            url = f"https://auth.example.com/self-service/{route}?flow={flow}&token={token(32)}"
            values["VerificationURL"] = values["RecoveryURL"] = url
            if answer == "code":
                values[field] = code
                expected = code_answer(code)
                if variant and "RequestURLDomain" in (base / rel).read_text(encoding="utf-8"):
                    expected = {**expected, "origin": "https://auth.example.com"}
            elif answer == "link":
                expected = link_answer(url)
            text = _go_fill((base / rel).read_text(encoding="utf-8"), values).replace(
                '{{ index .Identity "ID" }}', flow
            )
            if subject_rel:
                text = (
                    _go_fill((base / subject_rel).read_text(encoding="utf-8"), values).strip()
                    + "\n\n"
                    + text
                )
            if variant and kind != "sms" and answer != "code":
                text = "Hi Ann,\n\n" + text
            elif variant and kind != "sms":
                continue
            yield entry(
                f"{KRATOS}:{src}{rel}",
                f"{KRATOS}:{src}{rel}",
                "en",
                kind,
                text.strip() + "\n",
                expected,
            )


HANKO = "teamhanko/hanko"


def _hanko_yaml(path: Path) -> dict[str, str]:
    return {
        m.group(1): json.loads(m.group(2))
        for m in re.finditer(
            r'^(\w+):\n(?:  description:.*\n)?  other: (".*")$',
            path.read_text(encoding="utf-8"),
            re.M,
        )
    }


def hanko() -> Iterator[Entry]:
    tdir = DATA / "hanko/templates"
    for path in sorted((DATA / "hanko/locales").glob("passcode.*.yaml")):
        lang = path.name.split(".")[1]
        strings = _hanko_yaml(path)
        notes = _hanko_yaml(DATA / f"hanko/locales/security-notifications.{lang}.yaml")
        source = f"{HANKO}:backend/mail/locales/{path.name}"
        for tpl, subject_key in (
            ("login.txt", "email_subject_login"),
            ("email_verification.txt", "subject_email_verification"),
        ):
            code = digits(6)
            values = {"Code": code, "TTL": "5", "ServiceName": "Acme"}
            subject = _go_fill(strings.get(subject_key, ""), values)
            body = _go_fill((tdir / f"{tpl}.tmpl").read_text(encoding="utf-8"), values, strings)
            yield entry(
                source,
                f"{HANKO}:backend/mail/templates/{tpl}.tmpl",
                lang,
                "email",
                f"Subject: {subject}\n\n{body.strip()}\n",
                code_answer(code),
            )
        values = {"ServiceName": "Acme", "NewEmailAddress": "ann.lee@example.com"}
        for tpl, subject_key in (
            ("password_update.txt", "subject_password_update"),
            ("email_create.txt", "subject_email_create"),
        ):
            subject = _go_fill(notes.get(subject_key, ""), values)
            body = _go_fill((tdir / f"{tpl}.tmpl").read_text(encoding="utf-8"), values, notes)
            yield entry(
                f"{HANKO}:backend/mail/locales/security-notifications.{lang}.yaml",
                f"{HANKO}:backend/mail/templates/{tpl}.tmpl",
                lang,
                "email",
                f"Subject: {subject}\n\n{body.strip()}\n",
                None,
            )


SUPABASE = "supabase/auth"


def supabase() -> Iterator[Entry]:
    consts = json.loads((DATA / "supabase-auth/templates.json").read_text(encoding="utf-8"))
    plan = {
        "defaultConfirmationMail": ("signup", "link"),
        "defaultMagicLinkMail": ("magiclink", "link"),
        "defaultEmailChangeMail": ("email_change", "link"),
        "defaultReauthenticateMail": ("reauthentication", "code"),
        "defaultRecoveryMail": ("recovery", "none"),
        "defaultInviteMail": ("invite", "none"),
        "defaultPasswordChangedNotificationMail": ("", "none"),
        "defaultEmailChangedNotificationMail": ("", "none"),
        "defaultMFAFactorEnrolledNotificationMail": ("", "none"),
        "defaultIdentityUnlinkedNotificationMail": ("", "none"),
    }
    for name, (typ, answer) in plan.items():
        for variant in range(2 if answer != "none" else 1):
            code = digits(6)
            url = (
                f"https://{''.join(rng.choice(string.ascii_lowercase[:20]) for _ in range(20))}"
                f".supabase.co/auth/v1/verify?token={hexstr(56)}"
                f"&type={typ}&redirect_to=https://app.example.com/welcome"
            )
            values = {
                "ConfirmationURL": url,
                "Token": code,
                "NewEmail": "ann.lee@example.com",
                "Email": "ann@example.com",
                "OldEmail": "ann@example.org",
                "Provider": "GitHub",
                "FactorType": "totp",
            }
            body = _go_fill(consts[name], values)
            expected = (
                link_answer(url)
                if answer == "link"
                else code_answer(code)
                if answer == "code"
                else None
            )
            content = (
                html_page(re.sub("<[^>]+>", "", body.split("\n")[0]), body)
                if variant == 0
                else body
            )
            yield entry(
                f"{SUPABASE}:internal/mailer/templatemailer/templatemailer.go",
                f"{SUPABASE}:{name}",
                "en",
                "email-html",
                content,
                expected,
            )
    for _ in range(3):
        code = digits(6)
        yield entry(
            f"{SUPABASE}:internal/conf/configuration.go",
            f"{SUPABASE}:Sms.Template",
            "en",
            "sms",
            _go_fill(consts["defaultSMS"], {"Code": code}),
            code_answer(code),
        )


def pocketbase() -> Iterator[Entry]:
    data = json.loads((DATA / "pocketbase/templates.json").read_text(encoding="utf-8"))
    plan = {
        "defaultVerificationTemplate": "link",
        "defaultOTPTemplate": "code",
        "defaultResetPasswordTemplate": "none",
        "defaultConfirmEmailChangeTemplate": "link",
        "defaultAuthAlertTemplate": "none",
    }
    for name, answer in plan.items():
        otp = digits(8)
        values = {
            "{APP_NAME}": "Acme",
            "{APP_URL}": "https://pb.example.com",
            "{TOKEN}": jwt(),
            "{OTP}": otp,
            "{ALERT_INFO}": "Chrome on Windows, 203.0.113.7",
        }
        subject, body = data[name]["subject"], data[name]["body"]
        for k, v in values.items():
            subject, body = subject.replace(k, v), body.replace(k, v)
        expected = None
        if answer == "code":
            expected = code_answer(otp)
        elif answer == "link":
            expected = link_answer(re.search(r'href="([^"]+)"', body).group(1))  # type: ignore[union-attr]
        yield entry(
            "pocketbase/pocketbase:core/collection_model_auth_templates.go",
            f"pocketbase/pocketbase:{name}",
            "en",
            "email-html",
            html_page(subject, body),
            expected,
        )


def authelia() -> Iterator[Entry]:
    for name, kind in (
        ("IdentityVerificationOTC.txt", "email"),
        ("IdentityVerificationOTC.html", "email-html"),
    ):
        for _ in range(2):
            code = letters(_UPPER_ALNUM, 8)
            text = (DATA / "authelia" / name).read_text(encoding="utf-8")
            revoke = f"https://auth.example.com/revoke/one-time-code?id={hexstr(32)}"
            values = {
                "DisplayName": "Ann Lee",
                "Domain": "auth.example.com",
                "OneTimeCode": code,
                "RevocationLinkURL": revoke,
                "RemoteIP": "203.0.113.7",
                "Title": "Confirm your identity",
            }
            text = re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: values.get(m.group(1), ""), text)
            text = re.sub(r"\{\{[^}]*\}\}", "", text)
            yield entry(
                f"authelia/authelia:internal/templates/embed/notification/{name}",
                f"authelia/authelia:{name}",
                "en",
                kind,
                text,
                code_answer(code),
            )
    text = (DATA / "authelia/Event.txt").read_text(encoding="utf-8")
    values = {
        "Title": "Second Factor Method Added",
        "DisplayName": "Ann Lee",
        "BodyPrefix": "a",
        "BodyEvent": "Second Factor Method",
        "BodySuffix": "was added to your account.",
        "RemoteIP": "203.0.113.7",
    }
    text = re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: values.get(m.group(1), ""), text)
    text = re.sub(r"\{\{-?[^}]*\}\}", "", text).replace("\n\n\n", "\nDevice: TOTP\n")
    yield entry(
        "authelia/authelia:internal/templates/embed/notification/Event.txt",
        "authelia/authelia:Event.txt",
        "en",
        "email",
        text,
        None,
    )


def keycloak() -> Iterator[Entry]:
    props: dict[str, str] = {}
    for line in (DATA / "keycloak/messages_en.properties").read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            props[k] = v.replace("\\n", "\n").replace("''", "'")
    src = (
        "keycloak/keycloak:"
        "themes/src/main/resources/theme/base/email/messages/messages_en.properties"
    )
    plan = [
        ("emailVerification", "link"),
        ("emailUpdateConfirmation", "link"),
        ("passwordReset", "none"),
        ("orgInvite", "none"),
        ("eventLoginError", "none"),
        ("eventRemoveTotp", "none"),
        ("eventUpdatePassword", "none"),
        ("eventUpdateTotp", "none"),
        ("emailVerificationBodyCode", "code"),
    ]
    for key, answer in plan:
        for html_variant in (False, True):
            action = "execute-actions" if key == "passwordReset" else "action-token"
            url = (
                f"https://sso.example.com/realms/acme/login-actions/{action}?key={jwt()}"
                f"&client_id=account-console&tab_id={token(11)}"
            )
            code = digits(6)
            args = [url, "ann.lee@example.com", "Acme", "5 minutes", "Design"]
            if key.startswith("event"):
                args = ["2026-03-11 09:14", "203.0.113.7"]
            if key == "orgInvite":
                args = [url, "ann", "Acme", "Design", "12 hours"]
            if key == "emailVerificationBodyCode":
                args = [code]
                body_key = key + ("Html" if html_variant else "")
                subject = props["emailVerificationSubject"]
            else:
                body_key = key + "Body" + ("Html" if html_variant else "")
                subject = props[key + "Subject"]
            if body_key not in props:
                continue
            body = re.sub(
                r"\{(\d)\}",
                lambda m: args[int(m.group(1))] if int(m.group(1)) < len(args) else "",
                props[body_key],
            )
            subject = re.sub(
                r"\{(\d)\}",
                lambda m: args[int(m.group(1))] if int(m.group(1)) < len(args) else "",
                subject,
            )
            expected = (
                code_answer(code)
                if answer == "code"
                else link_answer(url)
                if answer == "link"
                else None
            )
            content = (
                html_page(subject, body) if html_variant else f"Subject: {subject}\n\n{body}\n"
            )
            yield entry(
                src,
                f"keycloak/keycloak:{body_key}",
                "en",
                "email-html" if html_variant else "email",
                content,
                expected,
            )


def zitadel() -> Iterator[Entry]:
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in (DATA / "zitadel/en.yaml").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if not line.startswith(" "):
            current = line.rstrip(":")
            sections[current] = {}
        else:
            k, v = line.strip().split(": ", 1)
            sections[current][k] = v
    src = "zitadel/zitadel:internal/notification/static/i18n/en.yaml"
    plan = {
        "VerifyEmail": "code-upper",
        "VerifyPhone": "code-upper",
        "VerifyEmailOTP": "code",
        "VerifySMSOTP": "code",
        "DomainClaimed": "none",
        "PasswordChange": "none",
    }
    for name, answer in plan.items():
        for _ in range(2):
            sec = sections[name]
            code = letters(_UPPER_ALNUM, 6) if answer == "code-upper" else digits(6)
            values = {
                "DisplayName": "Ann Lee",
                "Code": code,
                "OTP": code,
                "Domain": "example.com",
                "Username": "ann",
                "TempUsername": "ann@zitadel.example.com",
                "VerifyURL": f"https://zitadel.example.com/ui/login/otp/verify?userID={digits(18)}&code={code}",
            }
            text = re.sub(
                r"\{\{\s*\.(\w+)\s*\}\}", lambda m: values.get(m.group(1), ""), sec["Text"]
            )
            if "Greeting" in sec:
                url = f"https://zitadel.example.com/ui/login/mail/verification?userID={digits(18)}&code={code}&orgID={digits(18)}"
                if answer == "none":  # the button of a notice opens the login page
                    url = "https://zitadel.example.com/ui/login/"
                greet = re.sub(
                    r"\{\{\s*\.(\w+)\s*\}\}", lambda m: values.get(m.group(1), ""), sec["Greeting"]
                )
                body = (
                    f"<h1>{sec.get('Subject', '')}</h1><p>{greet}</p><p>{html.escape(text)}</p>"
                    f'<p><a href="{url}">{sec.get("ButtonText", "")}</a></p>'
                )
                content = html_page(sec.get("Subject", ""), body)
                kind = "email-html"
            else:
                content, kind = text, "sms"
            expected = None if answer == "none" else code_answer(code)
            yield entry(src, f"zitadel/zitadel:{name}", "en", kind, content, expected)


def bitwarden() -> Iterator[Entry]:
    text = (DATA / "bitwarden/TwoFactorEmail.text.hbs").read_text(encoding="utf-8")
    for action in ("logging in", "verifying your email"):
        code = digits(6)
        values = {
            "EmailTotpAction": action,
            "Token": code,
            "AccountEmail": "ann@example.com",
            "TheDate": "Wednesday, March 11, 2026",
            "TheTime": "9:14 AM",
            "TimeZone": "UTC",
            "DeviceIp": "203.0.113.7",
            "DeviceType": "Chrome",
        }
        body = re.sub(
            r"\{\{[#/>]?[^}]*\}\}", lambda m: values.get(m.group(0)[2:-2], ""), text
        ).strip()
        yield entry(
            "bitwarden/server:src/Core/MailTemplates/Handlebars/Auth/TwoFactorEmail.text.hbs",
            "bitwarden/server:TwoFactorEmail.text.hbs",
            "en",
            "email",
            f"Subject: Your Bitwarden Verification Code\n\n{body}\n",
            code_answer(code),
        )


def nextcloud() -> Iterator[Entry]:
    data = json.loads((DATA / "twofactor_email/l10n.json").read_text(encoding="utf-8"))
    heading = "Your two-factor authentication code is: %s"
    text = (
        "If you tried to login, please enter that code on %s. If you did not, somebody else did"
        " and knows your your email address or username – and your password!"
    )
    english = {heading: heading, text: text}
    for lang, strings in [("en", english), *sorted(data.items())]:
        code = digits(6)
        body = (
            strings.get(heading, heading).replace("%s", code)
            + "\n\n"
            + strings.get(text, text).replace("%s", "Nextcloud")
        )
        src = "nursoda/twofactor_email:" + (
            "lib/Service/Email.php" if lang == "en" else f"l10n/{lang}.js"
        )
        yield entry(
            src,
            "nursoda/twofactor_email:lib/Service/Email.php",
            lang.replace("_", "-").lower(),
            "email",
            body + "\n",
            code_answer(code),
        )


def nextauth() -> Iterator[Entry]:
    data = json.loads((DATA / "nextauth/email.json").read_text(encoding="utf-8"))
    for variant in ("text", "html", "text", "html"):
        host = rng.choice(_HOSTS)
        url = (
            f"https://{host}/api/auth/callback/nodemailer?callbackUrl=https%3A%2F%2F{host}%2Fdashboard"
            f"&token={hexstr(64)}&email=ann%40example.com"
        )
        body = data[variant].replace("${url}", html.escape(url) if variant == "html" else url)
        body = body.replace("${host}", host).replace(
            "${escapedHost}", host.replace(".", "&#8203;.")
        )
        content = (
            html_page(data["subject"].replace("${host}", host), body) if variant == "html" else body
        )
        yield entry(
            "nextauthjs/next-auth:packages/core/src/providers/nodemailer.ts",
            f"nextauthjs/next-auth:{variant}",
            "en",
            "email-html" if variant == "html" else "email",
            content,
            link_answer(url),
        )


GENERATORS = (
    appwrite,
    allauth,
    kratos,
    hanko,
    supabase,
    pocketbase,
    authelia,
    keycloak,
    zitadel,
    bitwarden,
    nextcloud,
    nextauth,
)


def main() -> None:
    entries: list[Entry] = []
    rng.seed(SEED)
    for gen in GENERATORS:
        entries.extend(gen())
    counts: dict[str, int] = {}
    for e in entries:
        base = re.sub(
            r"[^a-z0-9]+",
            "-",
            f"{e['template'].split(':')[0].split('/')[-1]}-{e['template'].split(':')[-1].split('/')[-1].split('.')[0]}-{e['lang']}".lower(),
        )
        counts[base] = counts.get(base, 0) + 1
        e["id"] = f"{base}-{counts[base]}"
    with OUT.open("w", encoding="utf-8") as handle:
        for e in entries:
            handle.write(json.dumps(e, ensure_ascii=False) + "\n")
    langs = {e["lang"] for e in entries}
    sources = {e["source"] for e in entries}
    repos = {e["source"].split(":")[0] for e in entries}
    negatives = sum(e["expected"] is None for e in entries)
    print(
        f"{len(entries)} messages, {len(langs)} languages, {len(sources)} source files,"
        f" {len(repos)} repositories, {negatives} negatives"
    )


if __name__ == "__main__":
    main()
