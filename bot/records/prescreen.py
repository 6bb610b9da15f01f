"""Deterministic pre-screen of a proposal against the city's guideline.

Each flag rests on a rule of ``knowledge/city.yaml`` and carries that rule's quote and citation, so
staff see *why* the bot raised it and can check the passage.  A city whose profile lacks a rule
(Kyoto accepts individuals, say) simply gets no such flag.  Flags are advice for the desk: they
appear on the staff card only and never turn into a rejection sent to the business.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.city import CityProfile, Rule
from bot.records.fields import ProposalFields, field_label


@dataclass(frozen=True)
class Flag:
    """One finding for staff: what to check, and the guideline passage it rests on."""

    id: str  # the city.yaml rule id, or "missing_info"
    severity: str  # "ineligible" | "note" | "missing"
    message: str  # Japanese, for desk staff
    quote: str = ""
    citation: str = ""

    def as_dict(self) -> dict:
        return {"id": self.id, "severity": self.severity, "message": self.message, "quote": self.quote,
                "citation": self.citation}


# Needed to submit at all (the guideline's 所属、氏名、連絡先、件名・内容); see validate.py.
REQUIRED: tuple[str, ...] = ("org_name", "org_type", "contact_name", "title", "summary")
# Not required to submit, but the desk needs them to screen; listed for staff when blank.
SCREENING: tuple[str, ...] = ("kind", "scheme", "asks", "cost_burden", "schedule", "personal_info",
                              "third_party_ip")


def citation_label(rule: Rule, titles: dict[str, str] | None = None) -> str:
    """``Title › Section, p. N`` with the document's title when known, its path otherwise."""
    return rule.source.label((titles or {}).get(rule.source.doc))


def missing_fields(fields: ProposalFields) -> list[str]:
    """Names of the fields that are still blank and that the desk needs (required first)."""
    values = fields.as_dict()
    missing = [name for name in REQUIRED if not values.get(name)]
    if not fields.email and not fields.phone:
        missing.append("email")
    for name in SCREENING:
        value = values.get(name)
        if not value or (name in ("personal_info", "third_party_ip") and value == "unknown"):
            missing.append(name)
    if fields.kind == "themed" and not fields.city_issue:
        missing.append("city_issue")
    return missing


def prescreen(fields: ProposalFields, city: CityProfile, titles: dict[str, str] | None = None) -> list[Flag]:
    """All flags for ``fields``, most serious first."""
    flags: list[Flag] = []

    def add(rule_id: str, severity: str, message: str) -> None:
        rule = city.rules.get(rule_id)
        if rule is not None:
            flags.append(Flag(rule_id, severity, message, rule.quote, citation_label(rule, titles)))

    if fields.org_type == "individual":
        add("individual_not_eligible", "ineligible",
            "提案者の種別が「個人」です。個人（個人事業主を除く）からの提案は対象外のため、"
            "個人事業主かどうかを確認してください。")
    handles = [what for what, value in (("個人情報", fields.personal_info), ("第三者の知的財産", fields.third_party_ip))
               if value == "yes"]
    if handles:
        add("legal_compliance", "note",
            f"{'・'.join(handles)}を取り扱う提案です。関係法令等の遵守と取扱いの対策を確認してください。")
    if fields.cost_burden == "city_budget":
        add("trial_budget", "note",
            "市の予算措置を希望しています。実証実験は市の予算以外から費用を捻出することが基本です。")
        add("paid_work_procurement", "note",
            "市の財政負担を伴う場合は、プロポーザルや入札等による事業者選定となる可能性があります。")
    missing = missing_fields(fields)
    if missing:
        names = "、".join(field_label(name) for name in missing)
        flags.append(Flag("missing_info", "missing", f"未記入・要確認の項目があります: {names}"))
    return flags
