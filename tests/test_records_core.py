"""The pure core of records: pre-screen, validation, prefill, Block Kit.

No database, no Slack: these functions decide what staff are warned about, what the business is
told to fix, and what the modal starts with, so each rule is pinned here with the city's real
profile (``knowledge/city.yaml``).  The LLM prefill runs against a local OpenAI-compatible server
(the real ``init_chat_model`` client over HTTP), and against a dead one to prove the fallback.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import KNOWLEDGE, make_settings
from records_fake_llm import fake_chat_model
from slack_helpers import initial_state

from bot.city import load_city, parse_city
from bot.language import detect_language
from bot.records import blocks as rb
from bot.records.extract import ConvTurn, coerce_turns, extract, find_organization
from bot.records.fields import ProposalFields, can_change_status
from bot.records.prescreen import prescreen
from bot.records.validate import normalize_contact, validate
from bot.records.views import RecordView
from ingest.store import document_titles

CITY = load_city(KNOWLEDGE)


@pytest.fixture(scope="module", name="titles")
def titles_fixture(kb_settings) -> dict[str, str]:
    """Document titles as the ingested store's manifest holds them (the PDF's included)."""
    return document_titles(kb_settings)


def fields(**kw) -> ProposalFields:
    base = {"org_name": "株式会社青森テック", "org_type": "corporation", "contact_name": "山田 花子",
            "email": "hanako@example.co.jp", "title": "自動運転バスの実証", "summary": "駅前で実証したい",
            "kind": "open", "scheme": "trial", "cost_burden": "self", "personal_info": "no",
            "third_party_ip": "no", "asks": ["field"], "schedule": "来年度"}
    base.update(kw)
    return ProposalFields.from_dict(base)


# --- pre-screen -------------------------------------------------------------------------------------


def test_individual_is_flagged_ineligible_with_the_guideline_quote(titles: dict[str, str]) -> None:
    flags = prescreen(fields(org_type="individual"), CITY, titles)
    flag = flags[0]
    assert flag.id == "individual_not_eligible" and flag.severity == "ineligible"
    assert flag.quote == CITY.rules["individual_not_eligible"].quote
    assert "個人(個人事業主を除く)" in flag.quote
    assert flag.citation == "青森市公民連携デスクガイドライン › 留意事項, p. 15"


def test_sole_proprietor_and_clean_corporation_raise_nothing() -> None:
    assert prescreen(fields(org_type="sole_proprietor"), CITY) == []
    assert prescreen(fields(), CITY) == []


def test_personal_information_or_third_party_ip_needs_the_legal_note() -> None:
    for kw, what in (({"personal_info": "yes"}, "個人情報"), ({"third_party_ip": "yes"}, "第三者の知的財産")):
        flags = prescreen(fields(**kw), CITY)
        assert [f.id for f in flags] == ["legal_compliance"]
        assert what in flags[0].message and "関係法令等を遵守" in flags[0].quote


def test_city_budget_brings_trial_budget_and_procurement_notes() -> None:
    flags = prescreen(fields(cost_burden="city_budget"), CITY)
    assert [f.id for f in flags] == ["trial_budget", "paid_work_procurement"]
    assert "市の予算以外から費用を捻出することを基本" in flags[0].quote
    assert "プロポーザルや入札等" in flags[1].quote
    assert "p. 10" in flags[0].citation and "p. 13" in flags[1].citation


def test_missing_information_is_listed() -> None:
    flags = prescreen(fields(kind="themed", cost_burden="", personal_info="unknown", asks=[], schedule=""), CITY)
    missing = [f for f in flags if f.id == "missing_info"]
    assert len(missing) == 1
    for label in ("解決したい市の課題", "費用負担", "個人情報の取扱い", "市に求めること", "実施時期の目安"):
        assert label in missing[0].message


def test_a_city_without_the_rule_does_not_flag_individuals() -> None:
    kyoto = parse_city({"city": "京都市", "desk": {"name": "京都市デスク", "phone": "075-000-0000"},
                        "prescreen": [r for r in ({"id": "legal_compliance", "quote": "q", "source": {}},)]})
    assert [f.id for f in prescreen(fields(org_type="individual"), kyoto)] == []


def test_staff_steps() -> None:
    assert can_change_status("submitted", "received")
    assert not can_change_status("draft", "received")
    assert not can_change_status("received", "received")  # double click
    assert can_change_status("info_requested", "info_requested", note="もう一点")
    assert can_change_status("declined", "in_dialogue")  # the desk may reopen
    assert not can_change_status("received", "submitted")


# --- validation -------------------------------------------------------------------------------------


def test_complete_fields_pass() -> None:
    assert validate(fields()) == {}


def test_invalid_email_and_phone_in_japanese_keyed_by_block() -> None:
    errors = validate(fields(email="hanako@", phone="12345"))
    assert errors["email"].startswith("メールアドレスの形式が正しくありません")
    assert errors["phone"].startswith("電話番号の形式が正しくありません")


def test_required_fields_and_contact() -> None:
    errors = validate(ProposalFields())
    assert errors["org_name"] == "団体名（法人名・屋号）を入力してください。"
    assert errors["org_type"] == "団体の種別を選択してください。"
    assert set(errors) >= {"contact_name", "title", "summary", "email"}
    assert "メールアドレスまたは電話番号" in errors["email"]
    assert validate(fields(email="", phone="017-761-4154")) == {}


def test_themed_proposal_needs_the_city_issue() -> None:
    assert "課題提案の場合" in validate(fields(kind="themed"))["city_issue"]
    assert validate(fields(kind="themed", city_issue="除雪の担い手不足")) == {}


def test_english_messages_when_the_business_wrote_english() -> None:
    errors = validate(ProposalFields(email="x@"), lang="en")
    assert errors["email"].startswith("This email address")
    assert errors["org_name"] == "Please enter Organization name."


def test_full_width_contact_is_normalized_then_accepted() -> None:
    normalized = normalize_contact(fields(email="ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ", phone="０１７−７６１−４１５４"))
    assert normalized.email == "hanako@example.jp" and normalized.phone == "017-761-4154"
    assert validate(normalized) == {}


def test_a_draft_may_be_incomplete_but_not_malformed() -> None:
    assert validate(ProposalFields(title="途中"), submit=False) == {}
    assert "org_type" in validate(ProposalFields(org_type="alien"), submit=False)


# --- prefill ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "name", "org_type"), [
    ("株式会社青森テックの山田です。", "株式会社青森テック", "corporation"),
    ("私たちは青森テック株式会社と申します", "青森テック株式会社", "corporation"),
    ("NPO法人あおもりみらいの佐藤です", "NPO法人あおもりみらい", "npo"),
    ("弘前大学の研究室で除雪ロボットを研究しています", "弘前大学", "university"),
    ("We are Aomori Mobility Inc. and would like to run a pilot.", "Aomori Mobility Inc.", "corporation"),
])
def test_organization_patterns(text: str, name: str, org_type: str) -> None:
    assert find_organization(text) == (name, org_type)


def test_rules_read_the_business_turns_not_the_guideline_quotes() -> None:
    turns = [ConvTurn("user", "株式会社青森テックの山田です。青森駅前で自動運転バスの実証実験をしたいと考えています。"),
             ConvTurn("assistant", "個人(個人事業主を除く)からの提案は対象外となります。[1]"),
             ConvTurn("user", "市の予算措置はありますか？カメラで人流データを取得します。")]
    got = extract(turns)
    assert got.org_name == "株式会社青森テック" and got.org_type == "corporation"
    assert got.scheme == "trial" and got.kind == "open"
    assert got.cost_burden == "city_budget" and got.personal_info == "yes"
    assert "data" in got.asks
    assert got.title == "青森駅前で自動運転バスの実証実験をしたいと考えています"
    assert got.qa_excerpt.startswith("Q: 株式会社青森テック") and "\nA: 個人(個人事業主を除く)" in got.qa_excerpt


def test_partnership_themed_and_individual_cues() -> None:
    got = extract([ConvTurn("user", "市が公表している課題について、包括連携協定を結びたいです。個人として提案します。")])
    assert (got.scheme, got.kind, got.org_type) == ("partnership", "themed", "individual")
    assert extract([ConvTurn("user", "個人事業主です。屋号でデザインをしています")]).org_type == "sole_proprietor"


def test_turn_shapes_and_language() -> None:
    from bot.engine import Turn

    turns = coerce_turns([Turn(question="Q1", answer="A1"), {"role": "user", "text": "Q2"}, ("assistant", "A2")])
    assert [(t.role, t.text) for t in turns] == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2"),
                                                 ("assistant", "A2")]
    assert detect_language(["Can an individual propose?"]) == "en"
    assert detect_language(["個人でも提案できますか？", "ok"]) == "ja"


def test_llm_prefill_through_init_chat_model_then_rules_fill_the_gaps(tmp_path) -> None:
    # Not every provider enforces the schema: an out-of-range choice must still be dropped.
    reply = ('{"org_name": "青森テック", "title": "AIバスの実証", '
             '"scheme": "trial", "kind": "nonsense", "asks": ["data", "bogus"]}')
    with fake_chat_model(reply) as model:
        settings = make_settings(tmp_path, LLM_MODEL="openai:gpt-4o-mini", LLM_API_KEY="sk-test",
                                 LLM_BASE_URL=model.url)
        got = extract([ConvTurn("user", "株式会社青森テックです。費用は自社負担で実証したい。")], settings)
    assert model.requests and "株式会社青森テック" in json.dumps(model.requests[0], ensure_ascii=False)
    schema = model.requests[0]["response_format"]["json_schema"]["schema"]  # structured output, not prose
    assert set(schema["properties"]["scheme"]["enum"]) == {"partnership", "trial", "undecided"}
    assert got.org_name == "青森テック" and got.title == "AIバスの実証"  # the model's reading
    assert got.kind == "open"  # its invalid choice was dropped; the rules filled it
    assert got.asks == ["data"] and got.cost_burden == "self"


def test_llm_reply_that_is_not_the_schema_falls_back_to_rules(tmp_path) -> None:
    turns = [ConvTurn("user", "株式会社青森テックです。実証実験をしたい。")]
    with fake_chat_model("Sure! The company is 青森テック.") as model:
        settings = make_settings(tmp_path, LLM_MODEL="openai:gpt-4o-mini", LLM_API_KEY="sk-test",
                                 LLM_BASE_URL=model.url)
        assert extract(turns, settings) == extract(turns)
    assert model.requests


def test_llm_failure_falls_back_to_rules(tmp_path) -> None:
    settings = make_settings(tmp_path, LLM_MODEL="openai:gpt-4o-mini", LLM_API_KEY="sk-test",
                             LLM_BASE_URL="http://127.0.0.1:9/v1", LLM_TIMEOUT_S=2)
    turns = [ConvTurn("user", "株式会社青森テックです。実証実験をしたい。")]
    assert extract(turns, settings) == extract(turns)


# --- Block Kit --------------------------------------------------------------------------------------




def test_modal_is_prefilled_editable_and_reads_back() -> None:
    original = fields(org_department="事業開発部", phone="017-000-0000", city_issue="", place="青森駅前",
                      qa_excerpt="Q: …", personal_info="yes")
    view = rb.draft_modal(original, lang="ja", meta={"rid": None, "idem": "k"})
    assert view["callback_id"] == rb.DRAFT_CALLBACK and json.loads(view["private_metadata"])["idem"] == "k"
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert set(inputs) == set(ProposalFields().as_dict())  # every field is on the form
    assert inputs["org_name"]["element"]["initial_value"] == "株式会社青森テック"
    assert inputs["org_name"]["optional"] is False and inputs["phone"]["optional"] is True
    assert rb.fields_from_state(initial_state(view)) == original
    assert rb.ACTION_SAVE_DRAFT in json.dumps(view)


def test_english_modal_labels() -> None:
    view = rb.draft_modal(ProposalFields(), lang="en", meta={})
    assert view["submit"]["text"] == "Submit"
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert "Organization name" in labels


def _record(**kw) -> RecordView:
    now = datetime(2026, 5, 1, 1, 0, tzinfo=UTC)
    base = dict(pk=1, record_id="P-2026-0001", status="submitted", version=1, created_at=now, updated_at=now,
                submitted_at=now, language="ja", proposer_user_id="UASKER", channel_id="C1", thread_ts="1.1",
                permalink="https://example.slack.com/archives/C1/p11", desk_channel_id=None, desk_ts=None,
                desk_permalink=None, assigned_department=None, fields=fields(org_type="individual"))
    base.update(kw)
    return RecordView(**base)


def test_desk_card_has_fields_flags_link_buttons_and_precedents(titles: dict[str, str]) -> None:
    record = _record()
    text, blocks = rb.desk_card(record, prescreen(record.fields, CITY, titles),
                                precedents=[{"title": "神戸市×Uber Eats", "summary": "配達",
                                             "link_or_citation": "cases/kobe-uber-eats"}])
    dumped = json.dumps(blocks, ensure_ascii=False)
    assert "P-2026-0001" in text
    for needle in ("株式会社青森テック", "hanako@example.co.jp", "個人(個人事業主を除く)", "留意事項, p. 15",
                   "相談スレッドを開く", "似ている事例", "神戸市×Uber Eats", "事業者には転送されません"):
        assert needle in dumped, needle
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == ["受付", "対話・調整中", "担当課照会", "実施決定", "見送り",
                                                    "追加情報を依頼"]
    assert {b["value"] for b in buttons} == {"P-2026-0001"}
    _, without = rb.desk_card(record, [], precedents=None)
    assert "似ている事例" not in json.dumps(without, ensure_ascii=False)


def test_business_text_is_escaped_on_the_card() -> None:
    record = _record(fields=fields(summary="<!channel> <https://evil.example|click>"))
    _, blocks = rb.desk_card(record, [])
    dumped = json.dumps(blocks, ensure_ascii=False)
    assert "<!channel>" not in dumped and "&lt;!channel&gt;" in dumped


def test_card_fallback_text_is_escaped_and_cuts_never_split_an_entity() -> None:
    hostile = "<!channel> <https://evil.example/login|青森市公式: 要ログイン>"
    text, blocks = rb.desk_card(_record(fields=fields(title=hostile, qa_excerpt="&" * 3000)), [])
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    excerpt = next(b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b
                   and "相談の抜粋" in b["text"]["text"])
    body = excerpt.split("\n", 1)[1].rstrip("…")
    assert body and body.replace("&amp;", "") == ""  # whole entities only, however it was cut


def test_confirmation_quotes_confidentiality_and_disclosure(titles: dict[str, str]) -> None:
    text, blocks = rb.confirmation_message(_record(), CITY, "ja", titles)
    dumped = json.dumps(blocks, ensure_ascii=False)
    assert "P-2026-0001" in text
    assert CITY.rules["confidentiality"].quote in dumped and CITY.rules["disclosure"].quote in dumped
    assert "個人(個人事業主を除く)" not in dumped  # staff flags never reach the business
    _, en = rb.confirmation_message(_record(language="en"), CITY, "en", titles)
    assert "We have received your proposal" in json.dumps(en, ensure_ascii=False)


def test_status_messages_to_the_business() -> None:
    _, declined = rb.status_message(_record(), "declined", "予算の都合", CITY, "ja")
    assert "見送り" in json.dumps(declined, ensure_ascii=False) and "予算の都合" in json.dumps(declined, ensure_ascii=False)
    _, inquiry = rb.status_message(_record(), "department_inquiry", None, CITY, "ja")
    assert "担当課に照会" in json.dumps(inquiry, ensure_ascii=False)
    text, request = rb.status_message(_record(language="en"), "info_requested", "Please send the budget.", CITY, "en")
    assert "more information" in text and "> Please send the budget." in json.dumps(request, ensure_ascii=False)


def test_home_views() -> None:
    draft = _record(record_id=None, status="draft", fields=ProposalFields(title="途中の提案"))
    home = rb.home_business([draft, _record()])
    dumped = json.dumps(home, ensure_ascii=False)
    assert home["type"] == "home" and "途中の提案" in dumped and rb.ACTION_EDIT_DRAFT in dumped
    staff = rb.home_staff({"submitted": 1, "received": 0}, {"submitted": [_record()]})
    assert "提出済み（受付待ち）*\\n1件" in json.dumps(staff, ensure_ascii=False)
