"""Prefill a proposal from the conversation that led to it.

Rules by default (deterministic, instant, no data leaves the process); an LLM through
``langchain.chat_models.init_chat_model`` when ``LLM_MODEL`` is set, falling back to the rules on any
error.  Only the business's own turns are read for facts: the bot's answers quote the guideline
(「個人(個人事業主を除く)…」) and would otherwise make every asker look like an individual.
Everything prefilled stays editable in the modal, so a wrong guess costs one edit, not a wrong record.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.config import Settings
from bot.records.fields import ASKS, CHOICES, ProposalFields

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConvTurn:
    """One message of the conversation: ``role`` is ``user`` (the business) or ``assistant``."""

    role: str
    text: str


def coerce_turns(raw: Iterable) -> list[ConvTurn]:
    """Accept the shapes the Slack side may hand over and flatten them into user/assistant turns.

    ``bot.slack.history.thread_turns`` returns engine ``Turn`` objects (question/answer); the
    ``conversations.replies`` fallback gives dicts with ``role``/``text``; tuples work too.
    """
    out: list[ConvTurn] = []
    for item in raw or ():
        if isinstance(item, ConvTurn):
            out.append(item)
            continue
        if isinstance(item, tuple | list) and len(item) == 2:
            out.append(ConvTurn(str(item[0]), str(item[1] or "")))
            continue
        get = item.get if isinstance(item, dict) else lambda k, _i=item: getattr(_i, k, None)
        if get("role") is not None:
            out.append(ConvTurn(str(get("role")), str(get("text") or get("content") or "")))
            continue
        question, answer = get("question"), get("answer")
        if question:
            out.append(ConvTurn("user", str(question)))
        if answer:
            out.append(ConvTurn("assistant", str(answer)))
    return [t for t in out if t.text.strip()]


# --- organization -----------------------------------------------------------------------------------

_NAME_CHARS = r"A-Za-z0-9Ａ-Ｚａ-ｚ０-９\u30a0-\u30ff\u3400-\u9fff々ー・&＆\.\-"
_CORP = "株式会社|有限会社|合同会社|合資会社|合名会社"
_ASSOC = "特定非営利活動法人|NPO法人|ＮＰＯ法人|一般社団法人|一般財団法人|公益社団法人|公益財団法人"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"(?:{_CORP})\s?[{_NAME_CHARS}]{{1,30}}"), "corporation"),
    (re.compile(rf"[{_NAME_CHARS}]{{1,30}}(?:{_CORP})"), "corporation"),
    (re.compile(rf"(?:{_ASSOC})\s?[{_NAME_CHARS}ぁ-ゖ]{{1,30}}"), "npo"),
    (re.compile(rf"[{_NAME_CHARS}]{{1,20}}(?:協会|協議会|組合|財団)"), "npo"),
    (re.compile(rf"[{_NAME_CHARS}]{{1,20}}(?:工業高等専門学校|高等専門学校|大学|研究所|研究機構)"), "university"),
    (re.compile(r"\b[A-Z][\w&'\-]*(?:\s+[A-Z][\w&'\-]*)*,?\s+(?:Inc\.?|Co\.,?\s*Ltd\.?|Ltd\.?|LLC|"
                r"Corporation|Corp\.?|K\.K\.|GmbH)(?=\W|$)"), "corporation"),
    (re.compile(r"\b(?:University\s+of\s+[A-Z]\w+|[A-Z]\w+\s+University)\b"), "university"),
)
# Hiragana may belong to an association's name (NPO法人あおもりみらい) but particles end it.
_PARTICLE_TAIL = re.compile(r"(?:です|でした|と申|として|から|より|では|の|が|を|に|で).*$")
_SOLE = re.compile(r"個人事業主|個人事業者|フリーランス|屋号|sole\s+proprietor|freelanc", re.I)
_INDIVIDUAL = re.compile(r"個人として|個人で(?:提案|応募|参加|申請)|個人的に提案|一個人|"
                         r"as\s+an\s+individual|private\s+individual", re.I)


def _trim_name(name: str) -> str:
    name = name.strip(" 　・-")
    if re.search("[ぁ-ゖ]", name) is None:
        return name
    head = re.match(rf"(?:{_ASSOC})\s?", name)
    prefix = head.group(0) if head else ""
    rest = _PARTICLE_TAIL.sub("", name[len(prefix):])
    return (prefix + rest).strip() if len(rest) >= 2 else ""


def find_organization(text: str) -> tuple[str, str]:
    """The first organization name in ``text`` and the type its form implies (or ``("", "")``)."""
    best: tuple[int, str, str] | None = None
    for pattern, org_type in _PATTERNS:
        for match in pattern.finditer(text):
            name = _trim_name(match.group(0))
            if name and (best is None or match.start() < best[0]):
                best = (match.start(), name, org_type)
            break
    return (best[1], best[2]) if best else ("", "")


# --- other fields -----------------------------------------------------------------------------------

_TRIAL = re.compile(r"実証実験|実証|ＰｏＣ|PoC|トライアル|試験導入|\btrial|\bpilot|demonstration", re.I)
_PARTNERSHIP = re.compile(r"連携協定|包括連携|協定|パートナーシップ|連携|partnership|agreement", re.I)
_THEMED = re.compile(r"課題提案|(?:市|行政)の課題|行政課題|(?:公表|募集|提示)(?:され|し)?(?:て(?:い)?る|た|中の)?課題|"
                     r"themed\s+proposal|published\s+issue", re.I)
_CITY_BUDGET = re.compile(r"市の予算|予算措置|委託料|補助金|市(?:に|が|で)(?:費用|経費)?(?:を)?(?:負担|支払)|"
                          r"city(?:'s)?\s+budget|funding\s+from\s+the\s+city|city\s+(?:to\s+)?pay", re.I)
_SELF_FUNDED = re.compile(r"自己負担|自社負担|自費|(?:当社|弊社|自社)(?:で|が)?(?:費用を)?負担|"
                          r"費用は(?:当社|弊社|自社)|self[-\s]funded|at\s+our\s+own\s+(?:cost|expense)", re.I)
_ASK_CUES: dict[str, re.Pattern[str]] = {
    "field": re.compile(r"フィールド|実証の場|場所を(?:提供|貸)|\bfield\b|test\s+site", re.I),
    "data": re.compile(r"データ|統計|\bdata\b", re.I),
    "pr": re.compile(r"ＰＲ|\bPR\b|広報|周知|告知|publicity|promot", re.I),
    "regulation": re.compile(r"規制|特区|許可|regulat|permit", re.I),
    "premises": re.compile(r"拠点|施設|オフィス|スペース|会議室|premises|facilit|office", re.I),
}
_PERSONAL = re.compile(r"個人情報|顔画像|顔認証|位置情報|カメラ|住所|氏名|personal\s+(?:data|information)|"
                       r"camera|location\s+data", re.I)
_IP = re.compile(r"著作権|キャラクター|商標|ライセンス|知的財産|特許|copyright|trademark|licen[cs]e|"
                 r"intellectual\s+property|character", re.I)
_SCHEDULE = re.compile(r"(?:20\d{2}年度?(?:\d{1,2}月)?|(?:来|今|本|次)年度|来年|来春|今秋|今夏|\d{1,2}月)"
                       r"(?:上旬|中旬|下旬|頃|ごろ|から|以降|中|内|末)?")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<!\d)0\d{1,4}-\d{1,4}-\d{3,4}(?!\d)")
_CUE = re.compile(r"したい|提案|実証|導入|活用|連携|実施|展開|want\s+to|would\s+like|propos|plan", re.I)
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
_QUESTION_END = re.compile(r"(?:でしょうか|ですか|ますか|か)[？?]?$|[？?]$")


def _title_from(texts: list[str]) -> str:
    """The first sentence that talks about the plan, shortened for a title."""
    for text in texts:
        for sentence in _SENTENCE.findall(text):
            sentence = sentence.strip()
            if len(sentence) >= 6 and _CUE.search(sentence) and not _QUESTION_END.search(sentence):
                sentence = sentence.rstrip("。.!！")
                return sentence if len(sentence) <= 60 else sentence[:59] + "…"
    return ""


def qa_excerpt(turns: list[ConvTurn], *, limit: int = 2800, answer_chars: int = 240) -> str:
    """The conversation as staff read it (``Q:``/``A:``), newest turns kept when it is too long."""
    lines = []
    for turn in turns:
        if turn.role == "user":
            lines.append("Q: " + turn.text.strip())
        else:
            text = " ".join(turn.text.split())
            lines.append("A: " + (text if len(text) <= answer_chars else text[:answer_chars] + "…"))
    while lines and len("\n".join(lines)) > limit:
        lines.pop(0)
    return "\n".join(lines)[:limit]


def extract_rules(turns: list[ConvTurn]) -> ProposalFields:
    """Rule-based prefill from the business's turns (deterministic, no network)."""
    texts = [t.text for t in turns if t.role == "user"]
    joined = "\n".join(texts)
    data: dict = {}
    org_name, org_type = find_organization(joined)
    data["org_name"] = org_name
    if org_type:  # a legal form in the name (株式会社…) outweighs loose words
        data["org_type"] = org_type
    elif _SOLE.search(joined):
        data["org_type"] = "sole_proprietor"
    elif _INDIVIDUAL.search(joined):
        data["org_type"] = "individual"
    if _TRIAL.search(joined):
        data["scheme"] = "trial"
    elif _PARTNERSHIP.search(joined):
        data["scheme"] = "partnership"
    if joined.strip():
        data["kind"] = "themed" if _THEMED.search(joined) else "open"
    if _CITY_BUDGET.search(joined):
        data["cost_burden"] = "city_budget"
    elif _SELF_FUNDED.search(joined):
        data["cost_burden"] = "self"
    data["asks"] = [key for key in ASKS if key in _ASK_CUES and _ASK_CUES[key].search(joined)]
    if _PERSONAL.search(joined):
        data["personal_info"] = "yes"
    if _IP.search(joined):
        data["third_party_ip"] = "yes"
    if (m := _SCHEDULE.search(joined)) is not None:
        data["schedule"] = m.group(0)
    if (m := _EMAIL.search(joined)) is not None:
        data["email"] = m.group(0)
    if (m := _PHONE.search(joined)) is not None:
        data["phone"] = m.group(0)
    data["title"] = _title_from(texts)
    summary = "\n".join(t.strip() for t in texts if t.strip())
    data["summary"] = summary if len(summary) <= 1000 else summary[:999] + "…"
    data["qa_excerpt"] = qa_excerpt(turns)
    return ProposalFields.from_dict(data)


# --- LLM --------------------------------------------------------------------------------------------

_PROMPT = (
    "You prepare a draft proposal form for a Japanese city's public-private partnership desk from a "
    "conversation with a business. Reply with ONE JSON object only, no prose. Keys (omit unknown ones): "
    "org_name, org_type (corporation|sole_proprietor|npo|university|individual|other), title (<= 60 chars), "
    "summary (<= 600 chars), city_issue, kind (open|themed), scheme (partnership|trial|undecided), "
    "asks (list of field|data|pr|regulation|premises|other), cost_burden (self|city_budget|undecided), "
    "schedule, place, personal_info (yes|no|unknown), third_party_ip (yes|no|unknown). "
    "Use only facts the business stated; write values in the business's language."
)
_TEXT_FIELDS = {"org_name": 200, "title": 100, "summary": 1000, "city_issue": 1000, "schedule": 200,
                "place": 200}


def parse_llm_json(text: str) -> ProposalFields:
    """Keep only well-formed values from a model's JSON reply (unknown choices are dropped)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the model's reply")
    raw = json.loads(text[start:end + 1])
    if not isinstance(raw, dict):
        raise ValueError("the model's reply is not a JSON object")
    data: dict = {}
    for name, limit in _TEXT_FIELDS.items():
        if isinstance(raw.get(name), str):
            data[name] = raw[name].strip()[:limit]
    for name, choices in CHOICES.items():
        value = raw.get(name)
        if name == "asks" and isinstance(value, list):
            data[name] = [v for v in value if v in choices]
        elif isinstance(value, str) and value in choices:
            data[name] = value
    return ProposalFields.from_dict(data)


def extract_llm(turns: list[ConvTurn], settings: Settings) -> ProposalFields:
    """Ask the configured chat model; raises on any failure (the caller falls back to rules)."""
    from bot.llm import chat_model

    model = chat_model(settings)
    convo = "\n".join(f"{'Business' if t.role == 'user' else 'Desk assistant'}: {t.text}" for t in turns)
    reply = model.invoke([("system", _PROMPT), ("human", convo[-6000:])])
    content = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
    return parse_llm_json(content)


def extract(turns: Iterable, settings: Settings | None = None) -> ProposalFields:
    """Prefill for the draft modal: the LLM's reading filled up with the rules', or the rules alone."""
    conv = coerce_turns(turns)
    rules = extract_rules(conv)
    if settings is None or not settings.llm_model or not any(t.role == "user" for t in conv):
        return rules
    try:
        llm = extract_llm(conv, settings)
    except Exception as exc:  # noqa: BLE001 - any model failure must leave the rule-based prefill
        log.warning("LLM prefill failed, using rules: %s", type(exc).__name__)
        return rules
    merged = llm.merged(rules)
    merged.qa_excerpt = rules.qa_excerpt
    return merged
