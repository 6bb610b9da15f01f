"""One language detector for the whole project: the engine, the Slack layer and records agree."""

from __future__ import annotations

import pytest

from bot.language import detect_language


@pytest.mark.parametrize(("text", "lang"), [
    ("個人でも応募できますか？", "ja"),
    ("Can individuals apply?", "en"),
    ("Can I propose a DX project in 青森?", "en"),  # an English sentence naming a Japanese place
    ("Who pays for the trial of 実証実験?", "en"),
    ("LightblueさんのAIで通行量を数える実験の費用は？", "ja"),  # a Japanese sentence with Latin names
    ("AOMORI STARTUP CENTERの利用料はいくらですか", "ja"),
    ("PPPとは何ですか", "ja"),
    ("123", "ja"), ("", "ja"), ("hello", "ja"),
])
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_a_conversation_is_judged_as_a_whole() -> None:
    assert detect_language(["Can an individual propose?", "and a sole proprietor?"]) == "en"
    assert detect_language(["個人でも提案できますか？", "ok"]) == "ja"


def test_every_layer_uses_the_same_detector() -> None:
    import bot.engine.question as question
    import bot.records.slack.drafts as drafts
    import bot.slack.answers.messages as messages
    import bot.slack.blocks as blocks
    import bot.slack.intake as intake

    for module in (question, drafts, blocks, messages, intake):
        assert module.detect_language is detect_language, module.__name__
