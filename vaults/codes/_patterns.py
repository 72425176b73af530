"""Keyword and distractor vocabularies, multilingual, compiled once.

Three kinds of *terms* are found in a message with one left-to-right scan:

* ``strong`` — words that name a one-time code (``code``, ``OTP``, ``código``, ``код``,
  ``验证码``, ``認証コード``, ``인증번호`` ...);
* ``weak`` — words that signal a login/verification context without naming a code
  (``sign in``, ``verify``, ``do not share`` ...);
* ``distractor`` — words whose number is *not* a code (order, invoice, card ending in, phone,
  ZIP/postal code, promo code, amounts ...).

Distractors are tried first at each position, so ``zip code`` or ``código postal`` is one
distractor, never the strong keyword ``code``.
"""

from __future__ import annotations

import re
from typing import Final, Literal

__all__ = [
    "AFTER_UNIT",
    "BOOKING_LABEL",
    "NON_LOGIN_QUALIFIER",
    "POINTER_AFTER",
    "POINTER_BEFORE",
    "STREET_AFTER",
    "TERMINATOR",
    "TERM_KINDS",
    "TRAVEL",
    "TermKind",
    "find_terms",
    "lower",
]

TermKind = Literal["strong", "weak", "distractor"]

# Latin/Greek/Cyrillic letters: word boundaries for alphabetic scripts. CJK text has no spaces,
# so CJK vocabulary is matched without boundaries.
_L: Final = "A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff"
_B: Final = f"(?<![{_L}])"
_E: Final = f"(?![{_L}])"


def _words(*alternatives: str) -> str:
    return _B + "(?:" + "|".join(alternatives) + ")" + _E


_DISTRACTOR_LATIN: Final = (
    # postal
    r"zip(?:\s*code)?",
    r"postal\s*code",
    r"post\s*code",
    r"postcode",
    r"postleitzahl",
    r"plz",
    r"c[oó]digo\s*postal",
    r"code\s*postal",
    r"cep",
    r"c\.?p\.",
    r"почтов\w*\s*индекс",
    r"индекс",
    # marketing and other non-login codes
    r"promo(?:tion(?:al)?)?\s*codes?",
    r"promo(?:tion(?:al)?)?",
    r"promocode",
    r"discount(?:\s*codes?)?",
    r"coupon(?:\s*codes?)?",
    r"voucher(?:\s*codes?)?",
    r"gift\s*card(?:\s*codes?)?",
    r"referral(?:\s*codes?)?",
    r"invit(?:e|ation)\s*codes?",
    r"redeem\w*(?:\s*codes?)?",
    r"area\s*codes?",
    r"country\s*codes?",
    r"error(?:\s*codes?)?",
    r"status\s*codes?",
    r"qr[\s-]*codes?",
    r"bar\s*codes?",
    r"barcode",
    r"source\s*code",
    r"sort\s*code",
    r"swift(?:\s*code)?",
    r"bic",
    r"iban",
    r"dress\s*code",
    r"tax\s*code",
    r"color\s*code",
    r"colour\s*code",
    r"pickup\s*code",
    r"locker\s*code",
    r"door\s*code",
    r"gutschein\w*",
    r"rabatt\w*",
    r"aktionscode",
    r"c[oó]digo\s*(?:promocional|de\s*descuento|de\s*cup[oó]n|de\s*reserva|de\s*rastreo"
    r"|de\s*seguimiento|de\s*barras|de\s*error)",
    r"code\s*(?:promo|de\s*r[ée]duction|de\s*r[ée]servation|de\s*suivi|d'erreur|barre)",
    r"cup[oó]n",
    r"cupom",
    r"descuento",
    r"r[ée]duction",
    r"промокод\w*",
    r"купон\w*",
    # orders, documents, references
    r"orders?(?:\s*(?:number|num|no\.?|id|#))?",
    r"invoices?(?:\s*(?:number|no\.?|id))?",
    r"receipt(?:\s*(?:number|no\.?))?",
    r"ref(?:erence)?(?:\s*(?:number|num|no\.?|id|code))?",
    r"ticket(?:\s*(?:number|no\.?|id))?",
    r"case(?:\s*(?:number|no\.?|id))?",
    r"claim(?:\s*(?:number|no\.?))?",
    r"policy(?:\s*(?:number|no\.?))?",
    r"booking(?:\s*(?:code|reference|number|ref|id))?",
    r"reservation(?:\s*(?:code|number|id))?",
    r"confirmation\s*(?:number|no\.?|#)",
    r"itinerary(?:\s*number)?",
    r"pnr",
    r"flight(?:\s*number)?",
    r"seat",
    r"gate",
    r"room",
    r"tracking(?:\s*(?:number|code|id|no\.?))?",
    r"shipment",
    r"parcel",
    r"package",
    r"transaction\s*(?:id|number|no\.?|ref)",
    r"txn\s*(?:id|no\.?)",
    r"request\s*id",
    r"id",
    r"serial(?:\s*number)?",
    r"model(?:\s*number)?",
    r"version",
    r"build",
    r"item",
    r"sku",
    r"batch",
    r"lot",
    r"member(?:ship)?\s*(?:id|number|no\.?)",
    r"customer\s*(?:id|number|no\.?)",
    r"account(?:\s*(?:number|no\.?|id))?",
    r"acct",
    r"loyalty\s*number",
    r"points?",
    r"miles",
    # cards, phones, addresses
    r"card(?:\s*(?:number|no\.?))?",
    r"credit\s*card(?:\s*(?:number|no\.?))?",
    r"debit\s*card(?:\s*(?:number|no\.?))?",
    r"ending\s*(?:in|with)",
    r"ending",
    r"license\s*plate",
    r"licence\s*plate",
    r"plate",
    r"kennzeichen",
    r"nummernschild",
    r"matr[ií]cula",
    r"placa",
    r"immatriculation",
    r"ends?\s*(?:in|with)",
    r"last\s*(?:4|four)(?:\s*digits)?",
    r"visa",
    r"mastercard",
    r"amex",
    r"phone(?:\s*number)?",
    r"tel(?:ephone)?\.?",
    r"mobile",
    r"fax",
    r"call(?:\s*us)?(?:\s*(?:at|on))?",
    r"dial",
    r"text\s+\w{1,12}\s+to",
    r"reply\s+\w{1,12}\s+to",
    r"send\s+\w{1,12}\s+to",
    r"txt\s+\w{1,12}\s+to",
    r"stop",
    r"help",
    r"suite",
    r"ste\.?",
    r"apt\.?",
    r"unit",
    r"p\.?\s*o\.?\s*box",
    r"box",
    r"floor",
    # money
    r"usd",
    r"eur",
    r"gbp",
    r"inr",
    r"rs\.?",
    r"rmb",
    r"cny",
    r"jpy",
    r"krw",
    r"cad",
    r"aud",
    r"chf",
    r"brl",
    r"mxn",
    r"rub",
    r"total",
    r"amount",
    r"balance",
    r"price",
    r"paid",
    r"charged?",
    # German
    r"bestell\w*",
    r"auftrag\w*",
    r"rechnung\w*",
    r"kunden\w*",
    r"sendung\w*",
    r"konto\w*",
    r"karte\w*",
    r"endet\s*(?:auf|mit)",
    r"telefon\w*",
    r"referenz\w*",
    r"vorgang\w*",
    r"buchung\w*",
    r"betrag",
    # Spanish / Portuguese / Italian
    r"pedido",
    r"factura",
    r"fatura",
    r"referencia",
    r"refer[eê]ncia",
    r"n[uú]mero\s*de\s*(?:pedido|seguimiento|referencia|cuenta|tarjeta|cliente|reserva)",
    r"seguimiento",
    r"rastreio",
    r"rastreamento",
    r"protocolo",
    r"tarjeta(?:\s*terminada\s*en)?",
    r"terminada\s*en",
    r"cart[aã]o(?:\s*final)?",
    r"final",
    r"tel[eé]fono",
    r"telefone",
    r"llam[ae]\w*",
    r"ligue",
    r"reserva",
    r"importe",
    r"valor",
    r"ordine",
    r"fattura",
    r"telefono",
    # French
    r"commande",
    r"facture",
    r"r[ée]f[ée]rence",
    r"suivi",
    r"carte(?:\s*se\s*terminant\s*par)?",
    r"se\s*terminant\s*par",
    r"t[ée]l[ée]phone",
    r"appelez",
    r"r[ée]servation",
    r"dossier",
    r"montant",
    # Russian
    r"заказ\w*",
    r"сч[её]т\w*",
    r"карт\w*",
    r"телефон\w*",
    r"тел\.?",
    r"трек\w*",
    r"накладн\w*",
    r"договор\w*",
    r"сумм\w*",
    r"руб\w*",
    r"баланс\w*",
)

_DISTRACTOR_CJK: Final = (
    # Chinese
    r"订单号?",
    r"訂單號?",
    r"尾号",
    r"尾號",
    r"卡号",
    r"卡號",
    r"账号",
    r"帳號",
    r"账户",
    r"帳戶",
    r"电话",
    r"電話",
    r"客服",
    r"金额",
    r"金額",
    r"余额",
    r"餘額",
    r"单号",
    r"單號",
    r"运单",
    r"運單",
    r"快递",
    r"快遞",
    r"邮编",
    r"郵編",
    r"优惠码",
    r"優惠碼",
    r"邀请码",
    r"邀請碼",
    r"推荐码",
    r"推薦碼",
    r"兑换码",
    r"兌換碼",
    r"取件码",
    r"取件碼",
    r"提货码",
    r"取货码",
    r"工号",
    r"编号",
    r"編號",
    r"人民币",
    r"积分",
    # Japanese
    r"注文番号",
    r"ご注文",
    r"注文",
    r"カード末尾",
    r"末尾",
    r"予約番号",
    r"お問い合わせ番号",
    r"問い合わせ",
    r"郵便番号",
    r"〒",
    r"クーポンコード",
    r"クーポン",
    r"プロモーションコード",
    r"qrコード",
    r"伝票番号",
    r"会員番号",
    r"お客様番号",
    r"追跡番号",
    r"金額",
    r"ポイント",
    # Korean
    r"주문\s?번호",
    r"주문",
    r"전화",
    r"카드",
    r"승인\s?번호",
    r"고객\s?센터",
    r"우편\s?번호",
    r"쿠폰",
    r"프로모션\s?코드",
    r"송장\s?번호",
    r"예약\s?번호",
    r"계좌",
    r"금액",
    r"포인트",
)

_STRONG_LATIN: Final = (
    r"codes?",
    r"passcodes?",
    *(
        prefix + r"(?:code|kode|kod)"
        for prefix in (
            "bestätigungs",
            "sicherheits",
            "anmelde",
            "verifizierungs",
            "verifikations",
            "einmal",
            "zugangs",
            "login",
            "authentifizierungs",
            "freigabe",
            "bevestigings",
            "verificatie",
            "beveiligings",
            "inlog",
            "toegangs",
            "verifierings",
            "bekräftelse",
            "säkerhets",
            "engangs",
            "bekræftelses",
            "sikkerheds",
            "verifiserings",
            "aktivierungs",
            "sms",
            "otp",
            "auth",
        )
    ),
    r"kod(?:u|un|unuz|em)?",
    r"kode",
    r"c[oó]digos?",
    r"codice",
    r"codul",
    r"otp",
    r"pin",
    r"passwor[dt]",
    r"token",
    r"einmalpasswort",
    r"kennwort",
    r"contraseña",
    r"senha",
    r"mot\s+de\s+passe",
    r"clave",
    r"парол[ьяе]",
    r"код(?:а|у|ом|е)?",
)
_STRONG_CASED: Final = r"(?<![A-Za-z])(?:m|sms|push|photo|chip|i|e)?TAN(?![A-Za-z])"
_STRONG_CJK: Final = (
    r"验证码",
    r"驗證碼",
    r"校验码",
    r"校驗碼",
    r"动态码",
    r"動態碼",
    r"动态密码",
    r"動態密碼",
    r"确认码",
    r"確認碼",
    r"安全码",
    r"安全碼",
    r"登录码",
    r"登入碼",
    r"认证码",
    r"認證碼",
    r"授权码",
    r"授權碼",
    r"短信码",
    r"验证代码",
    r"一次性密码",
    r"一次性密碼",
    r"密码",
    r"密碼",
    r"口令",
    r"認証コード",
    r"確認コード",
    r"認証番号",
    r"確認番号",
    r"ワンタイムパスワード",
    r"ワンタイムコード",
    r"パスコード",
    r"セキュリティコード",
    r"認証キー",
    r"承認コード",
    r"検証コード",
    r"ログインコード",
    r"暗証番号",
    r"パスワード",
    r"コード",
    r"인증\s?번호",
    r"인증\s?코드",
    r"확인\s?코드",
    r"확인\s?번호",
    r"보안\s?코드",
    r"승인\s?코드",
    r"로그인\s?코드",
    r"일회용\s?비밀번호",
    r"비밀번호",
    r"코드",
    r"رمز",
    r"كود",
    r"कोड",
    r"ओटीपी",
)

_WEAK_LATIN: Final = (
    r"log[\s-]?in",
    r"log[\s-]?on",
    r"sign[\s-]?in",
    r"signing\s+in",
    r"logging\s+in",
    r"verif(?:y|ying|ication|ied)",
    r"authenticat(?:e|ion|or)",
    r"confirm\s+(?:your|it's|its|that)",
    r"2fa",
    r"mfa",
    r"two[\s-](?:factor|step)",
    r"2[\s-]step",
    r"one[\s-]time",
    r"single[\s-]use",
    r"do\s+not\s+share",
    r"don't\s+share",
    r"never\s+share",
    r"iniciar\s+sesi[oó]n",
    r"verificaci[oó]n",
    r"no\s+(?:lo\s+|la\s+)?compart\w+",
    r"anmeld\w*",
    r"einlogg\w*",
    r"best[äa]tig\w*",
    r"verifizier\w*",
    r"nicht\s+weiter\w*",
    r"connexion",
    r"se\s+connecter",
    r"v[ée]rifi\w*",
    r"ne\s+(?:le\s+|la\s+)?partagez",
    r"entrar",
    r"acesso",
    r"n[ãa]o\s+compartilhe",
    r"вход\w*",
    r"войти",
    r"подтвержд\w*",
    r"никому\s+не",
)
_WEAK_CJK: Final = (
    r"登录",
    r"登錄",
    r"登入",
    r"验证",
    r"驗證",
    r"切勿",
    r"请勿",
    r"請勿",
    r"泄露",
    r"ログイン",
    r"認証",
    r"他人に",
    r"로그인",
    r"인증",
    r"타인에게",
)

# US-style "City, ST 94105" — the number after a two-letter state is a ZIP code.
_STATE_ZIP: Final = r"(?<=,)\s*[A-Z]{2}(?=\s+[0-9]{5}(?:-[0-9]{4})?(?![0-9]))"


def _dispatch(
    vocabularies: tuple[tuple[TermKind, tuple[str, ...]], ...], kinds: list[TermKind]
) -> str:
    """One branch per first character, so a position tries only the words starting with it.

    The text is matched lower-cased (see :func:`lower`), without ``re.IGNORECASE``: a branch
    that starts with a plain literal is skipped by the regex engine in one comparison. Every
    word must therefore be lower case and start with a literal character. Words of the same
    first character keep the distractor > strong > weak order of ``vocabularies``. Each word
    is a capturing group whose kind is appended to ``kinds`` (``match.lastindex`` finds it).
    """
    buckets: dict[str, list[tuple[TermKind, str]]] = {}
    for kind, words in vocabularies:
        for word in words:
            if (
                word[0] in "\\([.?*+|^$"
                or word[1:2] in ("?", "*", "+", "{")
                or re.sub(r"\\[A-Z]", "", word) != re.sub(r"\\[A-Z]", "", word).lower()
            ):
                raise ValueError(f"term must be lower case and start with a literal: {word!r}")
            buckets.setdefault(word[0], []).append((kind, word))
    branches: list[str] = []
    for first, entries in buckets.items():
        kinds.extend(kind for kind, _ in entries)
        rest = "|".join(f"({word[1:]})" for _, word in entries)
        branches.append(f"{re.escape(first)}(?:{rest})")
    return "|".join(branches)


_TERM_KINDS: list[TermKind] = []
_LATIN_TERMS: Final = _dispatch(
    (("distractor", _DISTRACTOR_LATIN), ("strong", _STRONG_LATIN), ("weak", _WEAK_LATIN)),
    _TERM_KINDS,
)
_CJK_TERMS: Final = _dispatch(
    (("distractor", _DISTRACTOR_CJK), ("strong", _STRONG_CJK), ("weak", _WEAK_CJK)),
    _TERM_KINDS,
)
# Scripts without word spaces: their words are only tried where such a character starts.
_CJK_START: Final = "(?=[\u0600-\u06ff\u0900-\u097f\u3000-\u30ff\u3400-\u9fff\uac00-\ud7af〒])"
_TERM: Final = re.compile(f"{_B}(?=[{_L}])(?:{_LATIN_TERMS}){_E}|{_CJK_START}(?:{_CJK_TERMS})")
_CASED_KINDS: Final[tuple[TermKind, ...]] = ("strong", "distractor")
_CASED_TERM: Final = re.compile(f"({_STRONG_CASED})|({_STATE_ZIP})")
TERM_KINDS: Final = tuple(_TERM_KINDS)


def lower(text: str) -> str:
    """Lower-case ``text`` without changing its length (so positions stay valid)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def find_terms(text: str, lowered: str, start: int, end: int) -> list[tuple[int, int, TermKind]]:
    """Terms in ``text[start:end]`` as (start, end, kind), in order; ``lowered = lower(text)``."""
    found: list[tuple[int, int, TermKind]] = []
    for match in _TERM.finditer(lowered, start, end):
        found.append((match.start(), match.end(), TERM_KINDS[(match.lastindex or 1) - 1]))
    for match in _CASED_TERM.finditer(text, start, end):
        found.append((match.start(), match.end(), _CASED_KINDS[(match.lastindex or 1) - 1]))
    found.sort()
    return found


# End of a sentence inside a gap of text (layout line breaks are not sentence ends).
TERMINATOR: Final = re.compile(r"[.!?](?=\s|$)|[。！？]")

# A number directly followed by a unit, a currency or a calendar word is a quantity.
AFTER_UNIT: Final = re.compile(
    r"[ \t]{0,2}(?:"
    + _words(
        r"min(?:ute)?s?",
        r"mins?",
        r"hrs?",
        r"hours?",
        r"h",
        r"sec(?:ond)?s?",
        r"days?",
        r"weeks?",
        r"months?",
        r"years?",
        r"minuten",
        r"stunden",
        r"sekunden",
        r"tage",
        r"minutos?",
        r"horas?",
        r"segundos?",
        r"d[ií]as",
        r"heures?",
        r"secondes?",
        r"jours",
        r"минут\w*",
        r"мин\.?",
        r"час\w*",
        r"секунд\w*",
        r"usd",
        r"eur",
        r"gbp",
        r"inr",
        r"dollars?",
        r"euros?",
        r"руб\w*",
        r"р\.",
        r"yen",
        r"won",
        r"reais",
        r"km",
        r"kg",
        r"mb",
        r"gb",
        r"points?",
        r"pts",
        r"miles",
        r"punkte",
        r"puntos",
        r"pontos",
        r"баллов",
        r"px",
        r"items?",
        r"st",
        r"street",
        r"ave",
        r"avenue",
        r"rd",
        r"road",
        r"blvd",
    )
    + r"|[%$€£¥₹₩₽°円元원년년월일年月日号號分秒時时]|분|초|시간|小时|小時|分钟|分鐘)",
    re.IGNORECASE,
)

# "1234 Main Street": a house number.
STREET_AFTER: Final = re.compile(
    r"[ \t]+(?:[A-Z][\w.'-]{0,20}[ \t]+){1,3}(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr"
    r"|Drive|Ln|Lane|Way|Pkwy|Parkway|Ct|Court|Pl|Place|Hwy|Highway|Sq|Square)\b"
)

# Travel and event messages: their "confirmation/registration code" is a booking reference
# (PNR, ticket), not a login code.
TRAVEL: Final = re.compile(
    _words(
        r"flights?",
        r"boarding",
        r"itinerary",
        r"reservations?",
        r"booking",
        r"hotel",
        r"check[\s-]?in",
        r"airlines?",
        r"depart(?:s|ure)?",
        r"vuelo",
        r"flug",
        r"vol",
        r"voo",
        r"r[ée]servation",
        r"buchung",
        r"рейс\w*",
        r"брониров\w*",
        # events
        r"venue",
        r"attendees?",
        r"conference",
        r"admission",
        r"tickets?",
        r"concert",
        r"webinar",
        r"registration\s+(?:is\s+)?confirmed",
    )
    + r"|航班|酒店|予約|搭乗|항공|예약",
    re.IGNORECASE,
)
BOOKING_LABEL: Final = re.compile(
    r"confirm|bestätig|подтвержд|booking|reserv|regist|ticket|确认|確認|확인", re.IGNORECASE
)

# "the code below", "code is as follows", "the following code": the code comes further down.
POINTER_AFTER: Final = re.compile(
    r"[ \t]{0,3}(?:is[ \t]+|est[ \t]+|es[ \t]+|ist[ \t]+|é[ \t]+)?"
    + _words(
        r"below",
        r"as\s+follows",
        r"ci-dessous",
        r"suivant",
        r"a\s+continuaci[oó]n",
        r"abajo",
        r"abaixo",
        r"seguinte",
        r"unten",
        r"nachfolgend\w*",
        r"ниже",
    )
    + r"|[ \t]{0,3}(?:如下|以下|下記|아래)",
    re.IGNORECASE,
)
POINTER_BEFORE: Final = re.compile(
    _words(r"following", r"folgenden?", r"siguiente", r"suivant", r"seguinte", r"следующий")
    + r"[ \t]+(?:[^\W\d_]+[ \t]+)?$",
    re.IGNORECASE,
)

# "código de recarga promocional", "code for your gift card", "код водителя" (the driver's
# code), "door code": a code, but not one that logs anybody in.
NON_LOGIN_QUALIFIER: Final = re.compile(
    # word starts (Romance/German/Russian inflect or compound)
    f"{_B}(?:promo|discount|descuento|desconto|coupon|cup[oó]n|cupom|rabatt|gutschein"
    r"|r[ée]duction|remise|recarga|voucher|invit|redeem|redemption|abhol|retirada"
    r"|водител|курьер|домофон|двер|доставк|парков)"
    # whole words
    f"|{_B}(?:gift|regalo|presente|referral|bonus|reward|backup|drivers?|couriers?|delivery"
    f"|doors?|gates?|lockers?|parking|wi-?fi|pickup){_E}"
    r"|取件|优惠|優惠|兑换|兌換|邀请|邀請|司机|快递|配送|クーポン|配達|쿠폰|배송|기사",
    re.IGNORECASE,
)
