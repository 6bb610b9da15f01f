"""Optional LLM composition with a citation check and a silent fallback.

Any chat model ``init_chat_model`` supports (an OpenAI-compatible endpoint, Ollama) can rephrase the
extractive answer from the same retrieved passages.  The model sees only those passages, must cite
them as [n], and its answer is accepted only when every citation points at a passage it was given
and at least one is present.  A timeout, an error or an uncited answer returns ``None`` and the
caller keeps the extractive answer: the user never sees a failure.
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
from dataclasses import replace

from bot.config import Settings
from bot.engine.answer import Answer
from bot.engine.compose import build_sources
from bot.engine.retrieve import Hit

log = logging.getLogger(__name__)
_CITE = re.compile(r"\[(\d{1,2})\]")
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="llm")

SYSTEM_JA = (
    "あなたは自治体の公民連携デスクの案内係です。与えられた資料の抜粋だけを根拠に、丁寧な日本語（です・ます）で"
    "簡潔に答えてください。各文の末尾に根拠の番号を [1] のように付けてください。資料に書かれていないことは推測せず、"
    "「資料には記載がありません」と答えてください。採否の約束や、他の事業者の情報の開示はしないでください。"
)
SYSTEM_EN = (
    "You answer questions for a city's public-private partnership desk. Use only the numbered excerpts "
    "given. Cite each statement with its excerpt number like [1]. If the excerpts do not answer, say so. "
    "Never promise adoption and never disclose other businesses' information. Answer in English."
)


def check_citations(text: str, n_passages: int) -> list[int] | None:
    """The cited passage numbers in order of first use, or None if any is invalid or none is given."""
    cited = [int(m) for m in _CITE.findall(text)]
    if not cited or any(not 1 <= c <= n_passages for c in cited):
        return None
    return list(dict.fromkeys(cited))


class LLMComposer:
    def __init__(self, settings: Settings) -> None:
        from bot.llm import chat_model

        self.timeout = settings.llm_timeout_s
        self.model = chat_model(settings)

    def _messages(self, answer: Answer, hits: list[Hit]) -> list[tuple[str, str]]:
        passages = "\n\n".join(
            f"[{i}] {h.chunk.title} › {h.chunk.section}\n{h.chunk.text}" for i, h in enumerate(hits, start=1))
        system = SYSTEM_EN if answer.language == "en" else SYSTEM_JA
        return [("system", system), ("human", f"資料の抜粋:\n{passages}\n\n質問: {answer.question}")]

    def rewrite(self, answer: Answer, hits: list[Hit]) -> Answer | None:
        """An LLM-written answer over ``hits``, or None to keep the extractive one."""
        if answer.abstained or not hits:
            return None
        try:
            future = _POOL.submit(self.model.invoke, self._messages(answer, hits))
            reply = future.result(timeout=self.timeout + 1)
        except concurrent.futures.TimeoutError:
            log.warning("llm timed out after %.1fs; extractive answer used", self.timeout)
            return None
        except Exception as exc:  # noqa: BLE001 - any provider failure falls back
            log.warning("llm failed (%s); extractive answer used", type(exc).__name__)
            return None
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        cited = check_citations(text, len(hits))
        if not text.strip() or cited is None:
            log.info("llm answer cited nothing valid; extractive answer used")
            return None
        sources, numbers = build_sources(hits, [c - 1 for c in cited])
        # Renumber [n] (position in the retrieved list) to the numbering of the sources shown.
        text = _CITE.sub(lambda m: f"[{numbers[int(m.group(1)) - 1]}]", text.strip())
        return replace(answer, text=text, sources=sources, lead=text.split("\n")[0], mode="llm")
