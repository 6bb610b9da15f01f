"""Validation of the proposal form: error messages keyed by the modal's block ids.

Slack shows ``response_action: errors`` next to each input, so the result is a plain mapping from
block id (the field name) to a short sentence in the business's language.  Drafts may be incomplete;
only a submission must be complete and well-formed.
"""

from __future__ import annotations

import re
import unicodedata

from bot.records.fields import CHOICES, ProposalFields, field_label
from bot.records.prescreen import REQUIRED

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_PHONE_CHARS = re.compile(r"^\+?[0-9\-() ]+$")
_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−ー－"), "-")

MAX_LENGTHS: dict[str, int] = {"org_name": 200, "org_department": 200, "contact_name": 200, "email": 254,
                               "phone": 40, "title": 100, "summary": 3000, "city_issue": 2000,
                               "schedule": 500, "place": 500, "qa_excerpt": 3000}

_MESSAGES = {
    "required": ("{label}を入力してください。", "Please enter {label}."),
    "choose": ("{label}を選択してください。", "Please choose {label}."),
    "email": ("メールアドレスの形式が正しくありません（例: name@example.jp）。",
              "This email address does not look right (e.g. name@example.com)."),
    "phone": ("電話番号の形式が正しくありません（例: 017-123-4567）。",
              "This phone number does not look right (e.g. +81 17-123-4567)."),
    "contact": ("メールアドレスまたは電話番号のいずれかを入力してください。",
                "Please enter an email address or a phone number."),
    "city_issue": ("課題提案の場合は、対象となる市の課題を入力してください。",
                   "For a themed proposal, please enter the city issue it addresses."),
    "length": ("{label}は{n}文字以内で入力してください。", "{label} must be at most {n} characters."),
    "invalid": ("選択肢から選んでください。", "Please choose one of the options."),
}


def _msg(key: str, lang: str, **kw) -> str:
    ja, en = _MESSAGES[key]
    return (en if lang == "en" else ja).format(**kw)


def normalize_contact(fields: ProposalFields) -> ProposalFields:
    """Fold full-width characters in email and phone (``ｉｎｆｏ＠…``, ``０１７－…``) before checking."""
    data = fields.as_dict()
    data["email"] = unicodedata.normalize("NFKC", fields.email).strip()
    data["phone"] = unicodedata.normalize("NFKC", fields.phone).translate(_DASHES).strip()
    return ProposalFields.from_dict(data)


def valid_email(value: str) -> bool:
    return len(value) <= 254 and bool(_EMAIL.match(value))


def valid_phone(value: str) -> bool:
    """A Japanese number (0 + 9–10 digits) or an international one (+ and 8–15 digits)."""
    if not _PHONE_CHARS.match(value):
        return False
    digits = re.sub(r"\D", "", value)
    if value.startswith("+"):
        return 8 <= len(digits) <= 15
    return digits.startswith("0") and 10 <= len(digits) <= 11


def validate(fields: ProposalFields, *, lang: str = "ja", submit: bool = True) -> dict[str, str]:
    """Errors by block id; empty when ``fields`` may be saved (``submit=False``) or submitted."""
    errors: dict[str, str] = {}
    values = fields.as_dict()
    for name, limit in MAX_LENGTHS.items():
        if len(values.get(name) or "") > limit:
            errors[name] = _msg("length", lang, label=field_label(name, lang), n=limit)
    for name, choices in CHOICES.items():
        value = values.get(name)
        chosen = value if isinstance(value, list) else [value] if value else []
        if any(v not in choices for v in chosen):
            errors.setdefault(name, _msg("invalid", lang))
    if fields.email and not valid_email(fields.email):
        errors.setdefault("email", _msg("email", lang))
    if fields.phone and not valid_phone(fields.phone):
        errors.setdefault("phone", _msg("phone", lang))
    if not submit:
        return errors
    for name in REQUIRED:
        if not values.get(name):
            key = "choose" if name in CHOICES else "required"
            errors.setdefault(name, _msg(key, lang, label=field_label(name, lang)))
    if not fields.email and not fields.phone:
        errors.setdefault("email", _msg("contact", lang))
    if fields.kind == "themed" and not fields.city_issue:
        errors.setdefault("city_issue", _msg("city_issue", lang))
    return errors
