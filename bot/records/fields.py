"""The vocabulary of a draft proposal: its fields, their allowed values, labels and statuses.

One place for the words every part uses (modal, desk card, pre-screen, CSV header, App Home), so a
renamed choice or a new status cannot drift between the screen the business fills in and the
spreadsheet the desk exports.  Pure data and pure functions only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

# --- choices (code value → (Japanese label, English label)) ----------------------------------------

ORG_TYPES: dict[str, tuple[str, str]] = {
    "corporation": ("法人（企業）", "Corporation"),
    "sole_proprietor": ("個人事業主", "Sole proprietor"),
    "npo": ("NPO・団体", "NPO / association"),
    "university": ("大学・研究機関", "University / research body"),
    "individual": ("個人", "Individual"),
    "other": ("その他", "Other"),
}
KINDS: dict[str, tuple[str, str]] = {
    "open": ("自由提案", "Open proposal"),
    "themed": ("課題提案", "Themed proposal (city-published issue)"),
}
SCHEMES: dict[str, tuple[str, str]] = {
    "partnership": ("パートナーシップ", "Partnership project"),
    "trial": ("実証実験サポート", "Demonstration trial support"),
    "undecided": ("未定", "Undecided"),
}
ASKS: dict[str, tuple[str, str]] = {
    "field": ("実証フィールド", "A field for trials"),
    "data": ("行政データ", "Administrative data"),
    "pr": ("PR・広報", "PR"),
    "regulation": ("規制緩和の検討", "Regulatory review"),
    "premises": ("活動拠点・施設", "Premises / facilities"),
    "other": ("その他", "Other"),
}
COST_BURDENS: dict[str, tuple[str, str]] = {
    "self": ("自己負担", "Self-funded"),
    "city_budget": ("市の予算措置を希望", "Asks for city budget"),
    "undecided": ("未定", "Undecided"),
}
YES_NO: dict[str, tuple[str, str]] = {
    "yes": ("あり", "Yes"),
    "no": ("なし", "No"),
    "unknown": ("未定・わからない", "Not sure yet"),
}

# --- statuses ---------------------------------------------------------------------------------------

STATUSES: dict[str, tuple[str, str]] = {
    "draft": ("下書き", "Draft"),
    "submitted": ("提出済み（受付待ち）", "Submitted (awaiting the desk)"),
    "received": ("受付", "Received"),
    "in_dialogue": ("対話・調整中", "In dialogue"),
    "department_inquiry": ("担当課照会", "Asked the responsible department"),
    "approved": ("実施決定", "Go decision"),
    "declined": ("見送り", "Declined"),
    "info_requested": ("追加情報を依頼", "More information requested"),
}
# The desk's own steps, in the order the card shows their buttons.
STAFF_STATUSES: tuple[str, ...] = ("received", "in_dialogue", "department_inquiry", "approved", "declined",
                                   "info_requested")
# Steps whose button asks staff for one more value before anything changes.
STATUS_NOTE: dict[str, str] = {"department_inquiry": "department", "declined": "reason",
                               "info_requested": "message"}
OPEN_STATUSES: tuple[str, ...] = ("submitted", "received", "in_dialogue", "department_inquiry",
                                  "info_requested")


def label(choices: dict[str, tuple[str, str]], value: str | None, lang: str = "ja") -> str:
    """The display label of a choice; unknown or empty values show as they are (or a dash)."""
    if not value:
        return "—"
    pair = choices.get(value)
    if pair is None:
        return value
    return pair[1] if lang == "en" else pair[0]


def status_label(status: str, lang: str = "ja") -> str:
    return label(STATUSES, status, lang)


def can_change_status(current: str, target: str, note: str | None = None) -> bool:
    """Whether staff may move a record from ``current`` to ``target``.

    Drafts belong to the business until submitted, so staff cannot act on them; otherwise the desk's
    process is not linear (a declined proposal may be reopened), so every staff step is allowed.
    Repeating the current step is allowed only when it carries a new note (a second request for
    information), which makes a double-clicked button a no-op instead of a duplicate audit row.
    """
    if target not in STAFF_STATUSES or current == "draft" or current not in STATUSES:
        return False
    return current != target or bool(note)


# --- the fields -------------------------------------------------------------------------------------


@dataclass
class ProposalFields:
    """Everything the business fills in; the same shape for a draft and a submitted proposal."""

    org_name: str = ""
    org_type: str = ""
    org_department: str = ""
    contact_name: str = ""
    email: str = ""
    phone: str = ""
    title: str = ""
    summary: str = ""
    city_issue: str = ""
    kind: str = ""
    scheme: str = ""
    asks: list[str] = field(default_factory=list)
    cost_burden: str = ""
    schedule: str = ""
    place: str = ""
    personal_info: str = ""
    third_party_ip: str = ""
    qa_excerpt: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ProposalFields:
        """Build from any mapping, ignoring unknown keys and turning ``None`` into empty values."""
        names = {f.name for f in fields(cls)}
        values: dict = {}
        for key, value in data.items():
            if key not in names:
                continue
            if key == "asks":
                values[key] = [str(v) for v in (value or []) if v]
            else:
                values[key] = "" if value is None else str(value).strip()
        return cls(**values)

    def merged(self, other: ProposalFields) -> ProposalFields:
        """This object with the empty fields filled in from ``other`` (prefill never overwrites)."""
        mine = self.as_dict()
        for key, value in other.as_dict().items():
            if not mine.get(key) and value:
                mine[key] = value
        return ProposalFields.from_dict(mine)


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ProposalFields))

# Labels for the modal, the card and the CSV header (ja, en).
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "org_name": ("団体名（法人名・屋号）", "Organization name"),
    "org_type": ("団体の種別", "Organization type"),
    "org_department": ("部署", "Department"),
    "contact_name": ("担当者名", "Contact person"),
    "email": ("メールアドレス", "Email"),
    "phone": ("電話番号", "Phone"),
    "title": ("提案の件名", "Proposal title"),
    "summary": ("提案の概要", "Summary"),
    "city_issue": ("解決したい市の課題", "City issue it addresses"),
    "kind": ("提案の区分", "Kind"),
    "scheme": ("希望する連携の形", "Scheme"),
    "asks": ("市に求めること", "What you ask of the city"),
    "cost_burden": ("費用負担", "Cost burden"),
    "schedule": ("実施時期の目安", "Schedule"),
    "place": ("実施場所・使いたい施設", "Place or facilities"),
    "personal_info": ("個人情報の取扱い", "Handles personal information"),
    "third_party_ip": ("第三者の知的財産の利用", "Uses third-party intellectual property"),
    "qa_excerpt": ("これまでの相談内容（抜粋）", "Conversation so far (excerpt)"),
}
CHOICES: dict[str, dict[str, tuple[str, str]]] = {
    "org_type": ORG_TYPES, "kind": KINDS, "scheme": SCHEMES, "asks": ASKS, "cost_burden": COST_BURDENS,
    "personal_info": YES_NO, "third_party_ip": YES_NO,
}


def field_label(name: str, lang: str = "ja") -> str:
    pair = FIELD_LABELS.get(name, (name, name))
    return pair[1] if lang == "en" else pair[0]


def display_value(name: str, value, lang: str = "ja") -> str:
    """A field's value as people read it: labels for choices, joined lists, a dash for empty."""
    choices = CHOICES.get(name)
    if isinstance(value, list):
        if not value:
            return "—"
        return "、".join(label(choices, v, lang) if choices else str(v) for v in value)
    if choices:
        return label(choices, value, lang)
    return str(value) if value else "—"
