"""Personal data out of logged questions: emails, phone numbers, names, Slack mentions.

Pure and conservative: a masked question should still say what was asked (「〔氏名〕と申します。
個人でも提案できますか？」), and a false mask costs a word, a missed one a person's data in a log.
"""

from __future__ import annotations

import re

EMAIL = "〔メール〕"
PHONE = "〔電話番号〕"
NAME = "〔氏名〕"
USER = "〔ユーザー〕"
URL = "〔URL〕"

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_URL = re.compile(r"https?://\S+")
# Japanese numbers (03-1234-5678, 090 1234 5678, 0120-123-456, +81 …) and any long digit run.
_PHONE = re.compile(r"\+81[-\s]?\d{1,4}[-\s]?\d{1,4}[-\s]?\d{3,4}|0\d{1,4}[-\s‐－]?\d{1,4}[-\s‐－]?\d{3,4}"
                    r"|\b\d{10,11}\b")
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_KANJI_NAME = r"[\u4e00-\u9fff々]{1,4}(?:\s?[\u4e00-\u9fff々]{1,4})?"
_KANA_NAME = r"[\u30a0-\u30ffー]{2,8}"
_NAME_WORD = rf"(?:{_KANJI_NAME}|{_KANA_NAME})"
# 「山田と申します」「担当の佐藤です」「私、鈴木太郎は」「田中様」 — a name where Japanese puts one.
_JA_NAMES = [
    re.compile(rf"({_NAME_WORD})(?=\s?(?:と申します|ともうします|と言います|といいます))"),
    re.compile(rf"(?<=担当の)({_NAME_WORD})(?=です|と|が|より|から)"),
    re.compile(rf"(?<=担当者の)({_NAME_WORD})(?=です|と|が|より|から)"),
    re.compile(rf"(?:(?<=私は)|(?<=わたしは)|(?<=私、)|(?<=わたくし、))({_NAME_WORD})(?=です|と|が|、|。)"),
    re.compile(rf"({_NAME_WORD})(?=\s?(?:様|さま|さん|殿))"),
    re.compile(rf"(?<=氏名[:：])\s*({_NAME_WORD})"),
]
_EN_NAMES = re.compile(r"(?i:\b(?:my name is|this is|i am|i'm)\s+)([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)")
# Words before 「さん」「様」 that are roles, not names: keep them.
_NOT_NAMES = frozenset({"担当者", "職員", "皆", "皆様", "お客", "お客様", "市長", "担当", "事業者", "デスク"})


def _mask_names(text: str) -> str:
    for pattern in _JA_NAMES:
        text = pattern.sub(lambda m: m.group(0) if m.group(1) in _NOT_NAMES else m.group(0).replace(
            m.group(1), NAME), text)
    return _EN_NAMES.sub(lambda m: m.group(0).replace(m.group(1), NAME), text)


def mask_personal(text: str) -> str:
    """``text`` with emails, URLs, phone numbers, Slack mentions and names replaced by placeholders."""
    text = _EMAIL.sub(EMAIL, text or "")
    text = _URL.sub(URL, text)
    text = _MENTION.sub(USER, text)
    text = _PHONE.sub(PHONE, text)
    return _mask_names(text)
