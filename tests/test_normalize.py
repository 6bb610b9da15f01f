"""Normalization: the repairs that make PDF-extracted Japanese text findable.

Each case is damage seen in real extractions of the city's documents.  A query typed with ordinary
characters must match text extracted with radical look-alikes, so the same function runs on both.
"""

from __future__ import annotations

import pytest

from ingest.lexical import tokenize
from ingest.normalize import compact, join_broken_lines, normalize, normalize_chars


@pytest.mark.parametrize(
    ("damaged", "clean"),
    [
        ("公⺠連携", "公民連携"),  # U+2EA0 CJK Radicals Supplement → 民
        ("⻘森市", "青森市"),  # U+2EC4 → 青
        ("情報開⺬", "情報開示"),  # U+2EAC → 示
        ("⽇本", "日本"),  # U+2F47 Kangxi radical, folded by NFKC
        ("住⺠税", "住民税"),
    ],
)
def test_radicals_become_unified_ideographs(damaged: str, clean: str) -> None:
    """Radical look-alikes from PDF fonts would split words and miss every query."""
    assert normalize(damaged) == clean


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "ABC123"),
        ("ｶﾀｶﾅ", "カタカナ"),
        ("（ガイドライン　Ｐ１）", "(ガイドライン P1)"),
    ],
)
def test_full_width_and_half_width_forms_fold_by_nfkc(raw: str, expected: str) -> None:
    """Full-width Latin/digits and half-width kana are the same words to a reader."""
    assert normalize_chars(raw) == expected


def test_replacement_character_becomes_a_space() -> None:
    """U+FFFD (undecodable glyph) must not survive into chunks or tokens."""
    out = normalize("民間\ufffd提案")
    assert "\ufffd" not in out
    assert out == "民間 提案"


@pytest.mark.parametrize("char", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"])
def test_zero_width_characters_are_removed(char: str) -> None:
    """Invisible characters inside a word would make it a different token."""
    assert normalize(f"公民{char}連携") == "公民連携"


def test_odd_spaces_collapse_and_crlf_becomes_lf() -> None:
    assert normalize_chars("青森\t\u00a0 市\r\n連携\r推進") == "青森 市\n連携\n推進"


def test_circled_numbers_are_kept_as_list_markers() -> None:
    """NFKC would turn ① into 1 and lose the list structure the chunker relies on."""
    assert normalize("① パートナーシップ事業\n② 実証実験サポート事業") == (
        "① パートナーシップ事業\n② 実証実験サポート事業"
    )


def test_lines_broken_inside_a_sentence_are_joined() -> None:
    broken = "人口減少やデジタル化など社会情勢が大きく\n変化していく中で、行政ニーズは複雑化\nしている。"
    assert normalize(broken) == "人口減少やデジタル化など社会情勢が大きく変化していく中で、行政ニーズは複雑化している。"


def test_line_after_a_sentence_end_is_not_joined() -> None:
    assert normalize("制度を導入する。\n次に説明する") == "制度を導入する。\n次に説明する"


@pytest.mark.parametrize(
    "text",
    [
        "## 民間提案制度\n提案は随時受け付ける",  # Markdown heading
        "- 少子化\n- 公共交通\n- 人口減少",  # list items
        "1. 事前相談\n2. 提案書の提出",  # numbered list
        "(1) 公民連携デスクの設置\n(2) 民間提案制度の導入",
        "① パートナーシップ事業\n市及び事業者が相互に役割を担う",
        "【対象】\n民間事業者",
        "第3条 目的\n本協定は",
        "本文の途中で\n| 表 | 列 |",
        "本文の途中で\n<!-- page: 2 -->\n続きの本文",
    ],
)
def test_headings_list_items_and_markers_are_not_joined(text: str) -> None:
    """Structure lines start new blocks; gluing them would destroy section paths and pages."""
    assert normalize(text).split("\n") == text.split("\n")


def test_latin_lines_are_not_joined() -> None:
    """Joining is for CJK only: English lines need a space, and guessing it is worse than leaving it."""
    assert join_broken_lines("Since July\n25, 2023") == "Since July\n25, 2023"


def test_many_blank_lines_collapse_to_one_paragraph_break() -> None:
    assert normalize("段落一。\n\n\n\n段落二。") == "段落一。\n\n段落二。"


def test_normalize_is_idempotent() -> None:
    """Documents and queries may be normalized twice along the way; the result must not drift."""
    text = "⻘森市の公⺠連携デスク（ＰＰＰ）は\n令和５年に開設された。\n- ① 項目"
    once = normalize(text)
    assert normalize(once) == once


def test_compact_ignores_whitespace_case_and_radicals() -> None:
    assert compact("公⺠ 連携\nＤＥＳＫ") == compact("公民連携desk") == "公民連携desk"


@pytest.mark.parametrize(
    ("with_radicals", "plain"),
    [
        ("公⺠連携デスクへの事前相談", "公民連携デスクへの事前相談"),
        ("⻘森市の情報開⺬請求", "青森市の情報開示請求"),
        ("⽇本の住⺠税", "日本の住民税"),
    ],
)
def test_query_with_radicals_tokenizes_like_plain_query(with_radicals: str, plain: str) -> None:
    """BM25 sees only tokens, so equal tokens mean a radical-damaged query retrieves the same chunks."""
    tokens = tokenize(with_radicals)
    assert tokens == tokenize(plain)
    assert tokens  # and the query is not silently emptied


def test_radicals_would_break_tokens_without_normalization() -> None:
    """Guard for the test above: Sudachi on raw radicals does not yield the word 公民."""
    from sudachipy import Dictionary, SplitMode

    raw = [m.surface() for m in Dictionary(dict="core").tokenizer(SplitMode.A).tokenize("公⺠連携")]
    assert "公民" not in raw
    assert "公民" in tokenize("公⺠連携")
