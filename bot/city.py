"""The city profile: desk contact, suggested prompts and pre-screen rules, read from knowledge/.

Everything city-specific is data (``knowledge/city.yaml``), each value citing the guideline passage
it rests on, so another city's desk swaps the file instead of the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Citation:
    doc: str
    section: str
    page: int | None
    quote: str = ""

    def label(self, title: str | None = None) -> str:
        head = (title or self.doc) + (f" › {self.section}" if self.section else "")
        return head + (f", p. {self.page}" if self.page else "")


@dataclass(frozen=True)
class Rule:
    id: str
    quote: str
    source: Citation


@dataclass(frozen=True)
class Desk:
    name: str
    department: str
    phone: str
    address: str
    web: str
    web_contact_note: str
    source: Citation

    def contact_line(self, lang: str = "ja") -> str:
        if lang == "en":
            return (f"{self.name} ({self.department}) — phone {self.phone}; web inquiries via {self.web} "
                    f"(CONTACT)")
        return f"{self.name}（{self.department}） 電話 {self.phone}／WEB: {self.web} のCONTACTから"


@dataclass(frozen=True)
class CityProfile:
    city: str
    desk: Desk
    suggested_prompts: tuple[str, ...]
    rules: dict[str, Rule] = field(default_factory=dict)


def _citation(raw: dict | None) -> Citation:
    raw = raw or {}
    return Citation(doc=str(raw.get("doc", "")), section=str(raw.get("section", "")), page=raw.get("page"),
                    quote=str(raw.get("quote", "")))


def parse_city(data: dict) -> CityProfile:
    desk = data.get("desk") or {}
    missing = [k for k in ("name", "phone") if not desk.get(k)]
    if missing:
        raise ValueError(f"city.yaml: desk is missing {', '.join(missing)}")
    rules = {r["id"]: Rule(id=r["id"], quote=r["quote"], source=_citation(r.get("source")))
             for r in data.get("prescreen") or []}
    return CityProfile(
        city=str(data.get("city", "")),
        desk=Desk(name=desk["name"], department=desk.get("department", ""), phone=str(desk["phone"]),
                  address=desk.get("address", ""), web=desk.get("web", ""),
                  web_contact_note=desk.get("web_contact_note", ""), source=_citation(desk.get("source"))),
        suggested_prompts=tuple(data.get("suggested_prompts") or ()),
        rules=rules,
    )


@lru_cache(maxsize=8)
def load_city(knowledge_dir: Path) -> CityProfile:
    """Read ``city.yaml`` from the knowledge directory."""
    path = knowledge_dir / "city.yaml"
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{path}: the city profile is missing (desk contact, rules)") from exc
    return parse_city(data)
