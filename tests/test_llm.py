"""LLM mode against a local OpenAI-compatible server: cited answers accepted, anything else falls back."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import make_settings

from bot.engine.engine import Engine
from bot.engine.llm import check_citations


class FakeOpenAI:
    """A loopback /v1/chat/completions endpoint whose behaviour a test chooses."""

    def __init__(self) -> None:
        self.mode = "good"
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                if outer.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "boom"}}')
                    return
                if outer.mode == "slow":
                    time.sleep(3)
                content = {
                    "good": "個人事業主を除く個人からの提案は対象外です[2]。民間企業や団体等は提案できます[2]。",
                    "uncited": "個人でも提案できます。",
                    "bad_citation": "提案できます[9]。",
                    "slow": "遅い回答です[1]。",
                }[outer.mode]
                payload = {"id": "x", "object": "chat.completion", "created": 0, "model": "fake",
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": content}}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture(scope="module")
def llm_engine(engine, kb_settings, fake_llm) -> Engine:
    settings = make_settings(kb_settings.data_dir, LLM_MODEL="openai:gpt-4o-mini", LLM_BASE_URL=fake_llm.url,
                             LLM_API_KEY="test-key", LLM_TIMEOUT_S=1.0)
    return Engine(settings, index=engine.index)


QUESTION = "個人でも提案できますか？"


def test_a_cited_llm_answer_is_used_with_its_citations_mapped_to_sources(llm_engine, fake_llm) -> None:
    fake_llm.mode = "good"
    answer = llm_engine.answer(QUESTION)
    assert answer.mode == "llm"
    assert "対象外です[1]" in answer.text  # [2] of the prompt is the first (and only) source shown
    assert len(answer.sources) == 1
    prompt = fake_llm.requests[-1]["messages"][-1]["content"]
    assert answer.sources[0].text in prompt  # the model saw exactly the passage it cites
    assert "本制度は、連携事業の実施が可能な民間企業" in prompt


@pytest.mark.parametrize("mode", ["uncited", "bad_citation", "error", "slow"])
def test_any_llm_failure_falls_back_to_the_extractive_answer(llm_engine, fake_llm, engine, mode: str) -> None:
    fake_llm.mode = mode
    answer = llm_engine.answer(QUESTION)
    assert answer.mode == "extractive"
    assert answer.text == engine.answer(QUESTION).text
    assert not answer.abstained and "対象外" in answer.text


def test_abstentions_never_reach_the_llm(llm_engine, fake_llm) -> None:
    fake_llm.mode = "good"
    before = len(fake_llm.requests)
    answer = llm_engine.answer("明日の天気は？")
    assert answer.abstained and len(fake_llm.requests) == before


def test_citation_check() -> None:
    assert check_citations("a[1] b[3] c[1]", 3) == [1, 3]
    assert check_citations("no citation", 3) is None
    assert check_citations("out of range [4]", 3) is None
