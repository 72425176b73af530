"""Copy the template and translation DATA that build.py renders out of local repository mirrors.

Run once (``python tests/codes/corpus_real/vendor.py``) with the mirrors under
``/work/.mirror/<owner>+<name>/repo`` (brought by the ``fetch`` tool). Only the strings the
corpus uses are kept; ``SOURCES.md`` names every repository, commit and licence.
Files read by hand from repositories too large to mirror (Keycloak, Zitadel, Bitwarden) are
written to ``data/`` directly and listed in SOURCES.md.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

MIRROR = Path("/work/.mirror")
DATA = Path(__file__).resolve().parent / "data"


def git(repo: str, *args: str) -> str:
    return subprocess.check_output(
        ["git", "-C", str(MIRROR / repo.replace("/", "+") / "repo"), *args], text=True
    )


def show(repo: str, path: str) -> str:
    return git(repo, "show", f"HEAD:{path}")


def ls(repo: str, under: str) -> list[str]:
    return git(repo, "ls-tree", "-r", "--name-only", "HEAD", under).split()


def write(rel: str, text: str) -> None:
    target = DATA / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def head(repo: str) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def appwrite() -> None:
    repo = "appwrite/appwrite"
    base = "app/config/locale/"
    for name in ("email-otp", "email-magic-url", "email-mfa-challenge", "email-inner-base"):
        write(f"appwrite/templates/{name}.tpl", show(repo, f"{base}templates/{name}.tpl"))
    keep = re.compile(
        r"emails\.(otpSession|magicSession|mfaChallenge|recovery|verification|invitation)\."
    )
    for path in ls(repo, f"{base}translations/"):
        strings = json.loads(show(repo, path))
        subset = {k: v for k, v in strings.items() if keep.match(k)}
        write(
            f"appwrite/translations/{Path(path).name}",
            json.dumps(subset, ensure_ascii=False, indent=1) + "\n",
        )


def _unescape(text: str) -> str:
    return text.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def _po_strings(text: str) -> dict[str, str]:
    """msgid -> msgstr of a gettext catalogue (no plurals; fuzzy entries dropped)."""
    out: dict[str, str] = {}
    for block in text.split("\n\n"):
        if "#, fuzzy" in block:
            continue
        fields: dict[str, str] = {}
        current = None
        for line in block.splitlines():
            m = re.match(r'(msgctxt|msgid|msgstr)\s+"(.*)"$', line)
            if m:
                current = m.group(1)
                fields[current] = m.group(2)
            elif line.startswith('"') and current:
                fields[current] += line[1:-1]
        if fields.get("msgid") and fields.get("msgstr"):
            out[_unescape(fields["msgid"])] = _unescape(fields["msgstr"])
    return out


ALLAUTH_TEMPLATES = (
    "account/email/base_message.txt",
    "account/email/login_code_message.txt",
    "account/email/login_code_subject.txt",
    "account/email/email_confirmation_message.txt",
    "account/email/email_confirmation_subject.txt",
    "account/email/password_reset_key_message.txt",
    "account/email/password_reset_key_subject.txt",
    "account/email/unknown_account_message.txt",
    "account/email/base_notification.txt",
    "account/email/email_changed_message.txt",
    "account/email/password_changed_message.txt",
)


def allauth() -> None:
    repo = "pennersr/django-allauth"
    msgids: set[str] = set()
    for rel in ALLAUTH_TEMPLATES:
        text = show(repo, f"allauth/templates/{rel}")
        write(f"django-allauth/templates/{rel}", text)
        for m in re.finditer(
            r"\{% blocktrans(?:late)?[^%]*%\}(.*?)\{% endblocktrans(?:late)? %\}", text, re.S
        ):
            msgids.add(re.sub(r"\{\{\s*(\w+)\s*\}\}", r"%(\1)s", m.group(1)))
    for path in ls(repo, "allauth/locale/"):
        if not path.endswith(".po"):
            continue
        lang = path.split("/")[2]
        strings = _po_strings(show(repo, path))
        subset = {k: v for k, v in strings.items() if k in msgids}
        if subset:
            write(
                f"django-allauth/locale/{lang}.json",
                json.dumps(subset, ensure_ascii=False, indent=1) + "\n",
            )


def kratos() -> None:
    repo = "ory/kratos"
    base = "courier/template/courier/builtin/templates/"
    for rel in (
        "login_code/valid/email.body.gotmpl",
        "login_code/valid/email.subject.gotmpl",
        "login_code/valid/sms.body.gotmpl",
        "otp/sms.body.gotmpl",
        "registration_code/valid/email.body.plaintext.gotmpl",
        "verification/valid/email.body.plaintext.gotmpl",
        "verification/valid/email.body.gotmpl",
        "verification_code/valid/email.body.plaintext.gotmpl",
        "verification_code/valid/sms.body.gotmpl",
        "recovery/valid/email.body.plaintext.gotmpl",
        "recovery/valid/email.body.gotmpl",
        "recovery/invalid/email.body.plaintext.gotmpl",
        "verifiable_address_changed/email.body.plaintext.gotmpl",
    ):
        write(f"ory-kratos/{rel}", show(repo, base + rel))


def hanko() -> None:
    repo = "teamhanko/hanko"
    for path in ls(repo, "backend/mail/locales/"):
        write(f"hanko/locales/{Path(path).name}", show(repo, path))
    for name in (
        "login.txt",
        "email_verification.txt",
        "password_update.txt",
        "email_create.txt",
        "login.html",
        "layout.html",
    ):
        write(f"hanko/templates/{name}.tmpl", show(repo, f"backend/mail/templates/{name}.tmpl"))


def go_consts(repo: str, path: str, prefix: str) -> dict[str, str]:
    source = show(repo, path)
    return {
        m.group(1): m.group(2) for m in re.finditer(rf"const ({prefix}\w+) = `(.*?)`", source, re.S)
    }


def supabase() -> None:
    consts = go_consts(
        "supabase/auth", "internal/mailer/templatemailer/templatemailer.go", "default"
    )
    consts["defaultSMS"] = "Your code is {{ .Code }}"  # internal/conf/configuration.go default
    write("supabase-auth/templates.json", json.dumps(consts, indent=1) + "\n")


def pocketbase() -> None:
    source = show("pocketbase/pocketbase", "core/collection_model_auth_templates.go")
    placeholders = dict(re.findall(r'(EmailPlaceholder\w+)\s+string = "([^"]+)"', source))
    out = {}
    for m in re.finditer(
        r"var (default\w+Template) = EmailTemplate\{\s*Subject: (.*?),\s*Body: (.*?),\n\}",
        source,
        re.S,
    ):

        def join(expr: str) -> str:
            parts = re.findall(r'`[^`]*`|"[^"]*"|EmailPlaceholder\w+', expr)
            return "".join(placeholders[p] if p.startswith("Email") else p[1:-1] for p in parts)

        out[m.group(1)] = {"subject": join(m.group(2)), "body": join(m.group(3))}
    write("pocketbase/templates.json", json.dumps(out, indent=1) + "\n")


def authelia() -> None:
    repo = "authelia/authelia"
    for name in ("IdentityVerificationOTC.txt", "IdentityVerificationOTC.html", "Event.txt"):
        write(f"authelia/{name}", show(repo, f"internal/templates/embed/notification/{name}"))


def nextcloud() -> None:
    repo = "nursoda/twofactor_email"
    out = {}
    for path in ls(repo, "l10n/"):
        if path.endswith(".js"):
            text = show(repo, path)
            pairs = re.findall(r'"((?:Your two-factor|If you tried)[^"]*)" : "([^"]*)"', text)
            out[Path(path).stem] = dict(pairs)
    write("twofactor_email/l10n.json", json.dumps(out, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    for fn in (appwrite, allauth, kratos, hanko, supabase, pocketbase, authelia, nextcloud):
        fn()
    for repo in (
        "appwrite/appwrite",
        "pennersr/django-allauth",
        "ory/kratos",
        "teamhanko/hanko",
        "supabase/auth",
        "pocketbase/pocketbase",
        "authelia/authelia",
        "nursoda/twofactor_email",
    ):
        print(repo, head(repo))
