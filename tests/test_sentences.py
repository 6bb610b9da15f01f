"""Sentence units: what the engine matches and quotes, computed at ingest and stored with the chunk."""

from __future__ import annotations

import json

from ingest.sentences import MAX_LIST_CHARS, UNITS_KEY, VECTORS_KEY, decode_vectors, split_units


def test_running_text_splits_at_sentence_ends_and_keeps_the_inline_heading() -> None:
    units = split_units("【留意事項】\n費用は補償しません。提案は秘密を保持します。\n短い")
    assert [(u.heading, u.text) for u in units] == [("留意事項", "費用は補償しません。"),
                                                    ("留意事項", "提案は秘密を保持します。")]


def test_short_list_items_join_into_one_unit_under_their_heading() -> None:
    units = split_units("【提供リソース(事業者)】\n- 《ヒト》カメラ設置\n- 《モノ》撮影機材一式等\n- 《カネ》旅費")
    assert len(units) == 1
    assert units[0].heading == "提供リソース(事業者)"
    assert units[0].text == "《ヒト》カメラ設置、《モノ》撮影機材一式等、《カネ》旅費"


def test_a_long_run_of_steps_is_cut_into_groups_so_no_unit_holds_the_whole_flow() -> None:
    steps = "\n".join(f"{i}. 手順その{i}を担当課と確認する" for i in range(1, 13))
    units = split_units(steps)
    assert len(units) > 1
    assert all(len(u.text) <= MAX_LIST_CHARS for u in units)
    assert "手順その1を" in units[0].text and "手順その12を" in units[-1].text


def test_table_rows_become_label_value_units() -> None:
    units = split_units("| 項目 | 内容 |\n|---|---|\n| 電話番号 | 017-000-0000 |")
    assert [u.text for u in units] == ["項目：内容", "電話番号：017-000-0000"]


def test_units_and_their_vectors_are_stored_with_every_chunk(kb_settings) -> None:
    from ingest.store import ChunkStore

    store = ChunkStore(kb_settings)
    rows = store.read_chunks()
    assert rows
    for _cid, text, meta in rows:
        units = json.loads(meta[UNITS_KEY])
        assert [[u.heading, u.text] for u in split_units(text)] == units
        if units:
            assert decode_vectors(meta[VECTORS_KEY], 384).shape == (len(units), 384)
