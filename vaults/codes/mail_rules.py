"""Facts about real mail that grow by vendor and language, kept as data (read by
:mod:`vaults.codes.mime`).

* ``CHARSET_SUPERSETS``: a declared charset → the codec to decode it with. Senders label
  text with the old name of a charset while using its vendor superset (WHATWG Encoding
  Standard: ``iso-8859-1`` and ``us-ascii`` are windows-1252, ``gb2312`` is GBK/GB18030,
  ``shift_jis`` is windows-31J, ``euc-kr`` and ``ks_c_5601-1987`` are windows-949).
* ``FORWARD_MARKERS``: the line a mail client writes above a message forwarded inline
  (Gmail, Outlook, Apple Mail, Thunderbird, in the languages they ship).
* ``FORWARD_TO_KEYS`` / ``FORWARD_HEADER_KEYS``: the labels of the quoted header block under
  such a marker ("To:", "An:", "À :", "Para:" …).
"""

from __future__ import annotations

from typing import Final

CHARSET_SUPERSETS: Final[dict[str, str]] = {
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "euc-jp": "euc_jis_2004",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "default": "utf-8",
}

FORWARD_MARKERS: Final[tuple[str, ...]] = (
    # Gmail ("---------- Forwarded message ---------"), by interface language
    "forwarded message",
    "weitergeleitete nachricht",
    "message transféré",
    "mensaje reenviado",
    "messaggio inoltrato",
    "mensagem encaminhada",
    "doorgestuurd bericht",
    "videresendt meddelelse",
    "vidarebefordrat meddelande",
    "videresendt melding",
    "välitetty viesti",
    "przekazana wiadomość",
    "přeposlaná zpráva",
    "пересылаемое сообщение",
    "пересланное сообщение",
    "転送されたメッセージ",
    "转发的邮件",
    "轉寄的郵件",
    "전달된 메일",
    # Thunderbird ("-------- Forwarded Message --------"), Outlook ("-----Original Message-----")
    "original message",
    "ursprüngliche nachricht",
    "message d'origine",
    "mensaje original",
    "messaggio originale",
    "mensagem original",
    "oorspronkelijk bericht",
    "исходное сообщение",
    # Apple Mail ("Begin forwarded message:")
    "begin forwarded message",
    "début du message réexpédié",
    "anfang der weitergeleiteten nachricht",
    "inicio del mensaje reenviado",
    "inizio messaggio inoltrato",
)

FORWARD_TO_KEYS: Final[frozenset[str]] = frozenset(
    {"to", "an", "à", "a", "para", "aan", "til", "till", "do", "komu", "кому", "宛先", "收件人"}
)

FORWARD_HEADER_KEYS: Final[frozenset[str]] = FORWARD_TO_KEYS | frozenset(
    {
        # from
        "from", "von", "de", "da", "van", "fra", "från", "od", "от", "差出人", "发件人",
        # date / sent
        "date", "sent", "datum", "gesendet", "envoyé", "enviado", "inviato", "verzonden",
        "fecha", "data", "дата", "отправлено", "日付", "发送时间", "sendt", "skickat",
        # subject
        "subject", "betreff", "objet", "asunto", "oggetto", "assunto", "onderwerp", "emne",
        "ämne", "temat", "předmět", "тема", "件名", "主题",
        # copies and replies
        "cc", "bcc", "reply-to", "kopie", "copie", "cópia", "копия",
    }
)  # fmt: skip
