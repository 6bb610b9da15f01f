"""Block Kit for records: the draft modal, the desk card, messages to the business, App Home.

Pure functions from records to JSON-ready dicts, so every screen is testable without Slack.  The
business sees polite Japanese (English when it wrote English); the desk card is for staff and is
always Japanese.  Block ids of the modal's inputs are the field names, which is what lets
validation errors (``response_action: errors``) land next to the right input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.city import CityProfile
from bot.records.fields import (
    CHOICES,
    STAFF_STATUSES,
    STATUS_NOTE,
    STATUSES,
    ProposalFields,
    display_value,
    field_label,
    label,
    status_label,
)
from bot.records.prescreen import REQUIRED, Flag
from bot.records.validate import MAX_LENGTHS
from bot.records.views import JST, RecordView
from bot.slack import kit
from bot.slack.kit import Block, button, confirm, context, escape, header, section, truncate
from bot.slack.texts import t

DRAFT_CALLBACK = "records_draft"
STATUS_NOTE_CALLBACK = "records_status_note"
INFO_CALLBACK = "records_info"
SHORTCUT_CALLBACK = "draft_from_message"
ACTION_SAVE_DRAFT = "records_save_draft"
ACTION_STATUS_PREFIX = "records_status_"
ACTION_EDIT_DRAFT = "records_edit_draft"
ACTION_DELETE_DRAFT = "records_delete_draft"
ACTION_NEW_DRAFT = "records_new_draft"
ACTION_OPEN_LINK = "records_open_link"
INPUT_ACTION = "value"

# Steps whose news carries the desk's words to the business (reason, request): told in a DM only.
PRIVATE_STATUSES = frozenset({"declined", "info_requested"})
_HOME_ITEMS = 25

# --- primitives -------------------------------------------------------------------------------------


def quote(text: str) -> str:
    return "\n".join("> " + line for line in (text or "").splitlines() or [""])


def local_time(value) -> str:
    return value.astimezone(JST).strftime("%Y-%m-%d %H:%M") if value else "—"


# --- the draft modal --------------------------------------------------------------------------------


def _options(name: str, lang: str) -> list[Block]:
    return [kit.option(label(CHOICES[name], key, lang), key) for key in CHOICES[name]]


def _text_input(name: str, value: str, lang: str, *, multiline: bool = False, optional: bool = True,
                hint: str | None = None) -> Block:
    element = kit.text_input(INPUT_ACTION, initial=value, multiline=multiline, max_length=MAX_LENGTHS.get(name))
    return kit.input_block(name, field_label(name, lang), element, optional=optional, hint=hint)


def _select_input(name: str, value: str, lang: str, *, radio: bool = False, optional: bool = True) -> Block:
    element = kit.choice("radio_buttons" if radio else "static_select", INPUT_ACTION, _options(name, lang),
                         initial=value, placeholder=None if radio else t(lang, "select"))
    return kit.input_block(name, field_label(name, lang), element, optional=optional)


def _checkbox_input(name: str, values: Sequence[str], lang: str, hint: str | None = None) -> Block:
    element = kit.choice("checkboxes", INPUT_ACTION, _options(name, lang), initial=values)
    return kit.input_block(name, field_label(name, lang), element, optional=True, hint=hint)


def draft_modal(fields: ProposalFields, *, lang: str, meta: dict, notice: str | None = None) -> Block:
    """The editable proposal form; ``meta`` travels in ``private_metadata`` (record, key, thread)."""
    req = set(REQUIRED)
    blocks: list[Block] = [context(t(lang, "intro"))]
    if notice:
        blocks.append(section(notice if notice.startswith(":") else f":white_check_mark: {notice}"))
    blocks += [
        header(t(lang, "section_org")),
        _text_input("org_name", fields.org_name, lang, optional=False),
        _select_input("org_type", fields.org_type, lang, optional=False),
        _text_input("org_department", fields.org_department, lang),
        _text_input("contact_name", fields.contact_name, lang, optional=False),
        _text_input("email", fields.email, lang),
        _text_input("phone", fields.phone, lang),
        header(t(lang, "section_proposal")),
        _text_input("title", fields.title, lang, optional="title" not in req),
        _text_input("summary", fields.summary, lang, multiline=True, optional="summary" not in req),
        _select_input("kind", fields.kind or "open", lang, radio=True),
        _text_input("city_issue", fields.city_issue, lang, multiline=True),
        _select_input("scheme", fields.scheme or "undecided", lang),
        _checkbox_input("asks", fields.asks, lang, t(lang, "asks_hint")),
        header(t(lang, "section_conditions")),
        _select_input("cost_burden", fields.cost_burden, lang, radio=True),
        _text_input("schedule", fields.schedule, lang),
        _text_input("place", fields.place, lang),
        _select_input("personal_info", fields.personal_info, lang, radio=True),
        _select_input("third_party_ip", fields.third_party_ip, lang, radio=True),
        _text_input("qa_excerpt", fields.qa_excerpt, lang, multiline=True, hint=t(lang, "qa_hint")),
        kit.actions([button(t(lang, "save_draft"), ACTION_SAVE_DRAFT, "save")], block_id="draft_actions"),
    ]
    return kit.modal(DRAFT_CALLBACK, t(lang, "modal_title"), blocks, close=t(lang, "close"), submit=t(lang, "submit"),
                     metadata=meta)


def fields_from_state(values: dict) -> ProposalFields:
    """Read the modal's ``view.state.values`` back into fields (unknown blocks are ignored)."""
    data: dict = {}
    for block_id, actions in (values or {}).items():
        state = (actions or {}).get(INPUT_ACTION) or {}
        kind = state.get("type")
        if kind in ("static_select", "radio_buttons"):
            data[block_id] = ((state.get("selected_option") or {}).get("value")) or ""
        elif kind == "checkboxes":
            data[block_id] = [o.get("value") for o in state.get("selected_options") or [] if o.get("value")]
        else:
            data[block_id] = state.get("value") or ""
    return ProposalFields.from_dict(data)


def info_modal(title: str, text: str, lang: str = "ja") -> Block:
    """A read-only modal (loading, submitted, already-submitted, errors)."""
    return kit.modal(INFO_CALLBACK, title, [section(text)], close=t(lang, "close"))


def submitted_modal(record: RecordView, lang: str) -> Block:
    where = t(lang, "where_thread") if record.thread_ts else t(lang, "where_dm")
    return info_modal(t(lang, "submitted_title"), t(lang, "submitted_body", rid=record.record_id, where=where),
                      lang)


def loading_modal(lang: str) -> Block:
    return info_modal(t(lang, "loading_title"), t(lang, "loading"), lang)


def exists_modal(record: RecordView, city: CityProfile, lang: str) -> Block:
    return info_modal(t(lang, "exists_title"), t(lang, "exists_body", rid=record.record_id,
                                                  status=status_label(record.status, lang),
                                                  contact=city.desk.contact_line(lang)), lang)


# --- messages to the business ----------------------------------------------------------------------


def _rule_note(city: CityProfile, rule_id: str, titles: dict[str, str] | None) -> str | None:
    rule = city.rules.get(rule_id)
    if rule is None:
        return None
    return f"{quote(rule.quote)}\n— {rule.source.label((titles or {}).get(rule.source.doc))}"


def confirmation_message(record: RecordView, city: CityProfile, lang: str,
                         titles: dict[str, str] | None = None) -> tuple[str, list[Block]]:
    """What the business reads in its thread after submitting: id, next steps, the guideline's notes."""
    blocks = [section(t(lang, "confirm_head", rid=record.record_id)), section(t(lang, "confirm_next"))]
    notes = [n for n in (_rule_note(city, rid, titles) for rid in ("confidentiality", "disclosure")) if n]
    if notes:
        blocks.append(section(t(lang, "confirm_notes") + "\n" + "\n".join(notes)))
    blocks.append(context(escape(city.desk.contact_line(lang))))
    return t(lang, "confirm_fallback", rid=record.record_id), blocks


def status_message(record: RecordView, to_status: str, note: str | None, city: CityProfile,
                   lang: str) -> tuple[str, list[Block]]:
    """The business's view of one of the desk's steps (never the staff's internal details)."""
    head = t(lang, f"status_{to_status}", rid=record.record_id)
    blocks = [section(head)]
    if note and to_status == "declined":
        blocks.append(section(t(lang, "reason") + "\n" + quote(escape(note))))
    elif note and to_status == "info_requested":
        blocks.append(section(t(lang, "request") + "\n" + quote(escape(note))))
    blocks.append(context(t(lang, "reply_hint", contact=escape(city.desk.contact_line(lang)))))
    return head.replace("*", ""), blocks


# --- the desk card ----------------------------------------------------------------------------------

_FLAG_ICON = {"ineligible": ":no_entry:", "note": ":warning:", "missing": ":memo:"}


def _fields_section(names: Iterable[str], record: RecordView) -> Block:
    return kit.fields(f"*{field_label(name)}*\n{escape(display_value(name, getattr(record.fields, name)))}"
                      for name in names)


def desk_card(record: RecordView, flags: Sequence[Flag], *, precedents: Sequence[dict] | None = None,
              last_change: dict | None = None) -> tuple[str, list[Block]]:
    """The staff card: every field, the pre-screen flags with their citations, links, the desk's buttons."""
    f = record.fields
    rid = record.record_id or record.display_id
    blocks: list[Block] = [header(f"{rid}｜{f.title or '（件名なし）'}")]
    status = f"*ステータス:* {status_label(record.status)}"
    if record.assigned_department:
        status += f"（照会先: {escape(record.assigned_department)}）"
    if last_change:
        status += f"　最終更新 {last_change.get('at_label', '')} <@{last_change.get('actor', '')}>"
    blocks.append(section(status, block_id="records_card_status"))
    contact = " / ".join(x for x in (escape(f.email), escape(f.phone)) if x) or "—"
    person = escape(f.contact_name or "—") + (f"（{escape(f.org_department)}）" if f.org_department else "")
    blocks.append(kit.fields([
        f"*{field_label('org_name')}*\n{escape(f.org_name or '—')}",
        f"*{field_label('org_type')}*\n{display_value('org_type', f.org_type)}",
        f"*{field_label('contact_name')}*\n{person}",
        f"*連絡先*\n{contact}",
    ]))
    blocks.append(section(f"*{field_label('summary')}*\n{escape(f.summary or '—')}"))
    if f.city_issue:
        blocks.append(section(f"*{field_label('city_issue')}*\n{escape(f.city_issue)}"))
    blocks.append(_fields_section(("kind", "scheme", "asks", "cost_burden", "schedule", "place"), record))
    blocks.append(_fields_section(("personal_info", "third_party_ip"), record))
    blocks.append(kit.divider())
    if flags:
        lines = ["*事前確認（職員向けの参考情報です。事業者には送信されません）*"]
        for flag in flags:
            line = f"{_FLAG_ICON.get(flag.severity, ':warning:')} {flag.message}"
            if flag.quote:
                line += f"\n{quote(flag.quote)}\n— {flag.citation}"
            lines.append(line)
        blocks.append(section("\n".join(lines), block_id="records_card_flags"))
    else:
        blocks.append(section("*事前確認*　ガイドライン上の注意点は見つかりませんでした。", block_id="records_card_flags"))
    if precedents:
        lines = ["*似ている事例*"]
        for p in list(precedents)[:3]:
            title = escape(str(p.get("title") or ""))
            summary = escape(truncate(str(p.get("summary") or ""), 160))
            where = str(p.get("link_or_citation") or "")
            where = f"<{escape(where)}|出典>" if where.startswith(("https://", "http://")) else escape(where)
            lines.append(f"• *{title}* — {summary}" + (f"（{where}）" if where else ""))
        blocks.append(section("\n".join(lines), block_id="records_card_precedents"))
    if f.qa_excerpt:
        blocks.append(section(f"*相談の抜粋*\n{escape(truncate(f.qa_excerpt, 1500))}"))
    links = [f"提案者: <@{record.proposer_user_id}>"]
    if record.permalink:
        links.append(f"<{record.permalink}|相談スレッドを開く>")
    links.append(f"提出 {local_time(record.submitted_at)}")
    blocks.append(context("　".join(links)))
    approve = confirm("実施決定", f"{rid} を「実施決定」にしますか？事業者に通知されます。", "実施決定にする", "やめる")
    styles = {"approved": "primary", "declined": "danger"}
    blocks.append(kit.actions([
        button(STATUSES[key][0], ACTION_STATUS_PREFIX + key, rid, style=styles.get(key),
               confirm=approve if key == "approved" else None) for key in STAFF_STATUSES], block_id="records_status"))
    blocks.append(context("このカードのスレッドへの返信は職員メモです。事業者には転送されません。"))
    text = f"新しい提案 {rid}：{escape(f.title) or '（件名なし）'}（{status_label(record.status)}）"
    return text, blocks


def status_note_modal(record_id: str, to_status: str, meta: dict) -> Block:
    """Asks staff for the one value a step needs (department, reason, or the request to the business)."""
    kind = STATUS_NOTE[to_status]
    labels = {"department": ("照会先の担当課", "例: 都市整備部 交通政策課", "職員向けの記録です。事業者には通知しません。"),
              "reason": ("見送りの理由", "事業者に伝える理由", "この理由は事業者にDMで送信されます（相談スレッドには載りません）。"),
              "message": ("事業者への依頼内容", "例: 実施体制と概算費用を教えてください。",
                          "この内容は事業者にDMで送信されます（相談スレッドには載りません）。")}
    text, placeholder, hint = labels[kind]
    element = kit.text_input(INPUT_ACTION, multiline=kind != "department", max_length=2000, placeholder=placeholder)
    return kit.modal(STATUS_NOTE_CALLBACK, STATUSES[to_status][0], [
        section(f"*{escape(record_id)}* を「{STATUSES[to_status][0]}」にします。"),
        kit.input_block("note", text, element, hint=hint)], close="やめる", submit="記録する", metadata=meta)


# --- App Home ---------------------------------------------------------------------------------------


def _record_line(record: RecordView, lang: str) -> str:
    title = escape(record.fields.title) or t(lang, "untitled")
    head = f"*{record.record_id}*　{title}" if record.record_id else title
    return (f"{head}\n{status_label(record.status, lang)}｜{t(lang, 'home_updated')} "
            f"{local_time(record.updated_at)}")


def home_business(records: Sequence[RecordView], lang: str = "ja") -> Block:
    """A business's own drafts and records (nobody else's: the query is by proposer)."""
    blocks: list[Block] = [
        header(t(lang, "home_title")),
        context(t(lang, "home_intro")),
        kit.actions([button(t(lang, "home_new"), ACTION_NEW_DRAFT, "new", style="primary")],
                    block_id="records_home_actions"),
        header(t(lang, "home_mine")),
    ]
    if not records:
        blocks.append(section(t(lang, "home_none")))
    for record in list(records)[:_HOME_ITEMS]:
        if record.status == "draft":
            blocks.append(section(_record_line(record, lang), accessory=_edit_button(record, t(lang, "home_continue"))))
            blocks.append(kit.actions([button(
                t(lang, "home_delete"), ACTION_DELETE_DRAFT, str(record.pk), style="danger",
                confirm=confirm(t(lang, "home_delete"), t(lang, "home_delete_confirm"), t(lang, "home_delete_yes"),
                                t(lang, "home_cancel")))]))
        else:
            blocks.append(section(_record_line(record, lang),
                                  accessory=_link_button("スレッド" if lang != "en" else "Thread", record.permalink, "link")))
    return kit.home(blocks)


def _edit_button(record: RecordView, text: str) -> Block:
    return button(text, ACTION_EDIT_DRAFT, str(record.pk))


def _link_button(text: str, url: str | None, value: str) -> Block | None:
    return button(text, ACTION_OPEN_LINK, value, url=url) if url else None


def home_staff(counts: dict[str, int], queue: dict[str, Sequence[RecordView]],
               own: Sequence[RecordView] = ()) -> Block:
    """The desk's queue: counts per status, then the records of each open status, oldest first."""
    blocks: list[Block] = [
        header("公民連携デスク（職員）"),
        kit.fields((f"*{status_label(s)}*\n{n}件" for s, n in counts.items()), block_id="records_home_counts"),
        kit.actions([button("提案の下書きを作成", ACTION_NEW_DRAFT, "new")], block_id="records_home_actions"),
    ]
    for status, records in queue.items():
        if not records:
            continue
        blocks.append(header(f"{status_label(status)}（{counts.get(status, len(records))}件）"))
        for record in list(records)[:8]:
            line = f"*{record.record_id}*　{escape(record.fields.title) or '（件名なし）'}\n" \
                   f"{escape(record.fields.org_name) or '—'}｜提出 {local_time(record.submitted_at)}"
            blocks.append(section(line, accessory=_link_button("カード", record.desk_permalink, "card")))
            if len(blocks) > 90:
                break
    if own:
        blocks.append(header("あなたの下書き"))
        for record in list(own)[:5]:
            blocks.append(section(_record_line(record, "ja"), accessory=_edit_button(record, "続きを入力")))
    return kit.home(blocks)

