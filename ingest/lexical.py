"""Lexical index: BM25 over SudachiPy tokens of normalized text.

Japanese has no spaces, so words come from Sudachi (sudachidict-core).  Text is normalized
*before* tokenizing — Sudachi would split ``住⺠税`` into ``住`` + ``⺠税`` — and both short (A) units
and compound (C) units are indexed so ``個人事業主`` matches whole and in parts.  The index is derived
state: it is rebuilt from the tokens stored with each chunk whenever its fingerprint (the set of
live chunk ids) differs from the vector store's, so the two never disagree.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np

from ingest.normalize import normalize

_SKIP_POS = {"助詞", "助動詞", "補助記号", "空白", "記号"}
_local = threading.local()


def _tokenizer():
    """One Sudachi tokenizer per thread (the Rust object is not safe to share)."""
    tok = getattr(_local, "tokenizer", None)
    if tok is None:
        from sudachipy import Dictionary

        tok = _local.tokenizer = Dictionary(dict="core").tokenizer()
    return tok


_KANA = re.compile(r"[ぁ-ゖ]")
_KANJI = re.compile(r"[一-龯々]")


def _kanji_skeleton(form: str) -> str | None:
    """受け付ける → 受付, 問い合わせ → 問合: okurigana variants of one word share a token."""
    if not (_KANA.search(form) and _KANJI.search(form)):
        return None
    skeleton = "".join(ch for ch in form if _KANJI.match(ch))
    return skeleton if len(skeleton) >= 2 else None


def tokenize(text: str) -> list[str]:
    """Content-word tokens (A units plus differing C compounds), normalized forms, lower-cased."""
    return list(_tokenize_cached(text))


@lru_cache(maxsize=16384)
def _tokenize_cached(text: str) -> tuple[str, ...]:
    # Answers tokenize the same passages' sentences and headings again and again; memoized,
    # tokenization drops from about a quarter of an answer's time to almost nothing.
    from sudachipy import SplitMode

    text = normalize(text)
    if not text:
        return ()
    tokens: list[str] = []
    tok = _tokenizer()
    for m in tok.tokenize(text, SplitMode.C):
        if m.part_of_speech()[0] in _SKIP_POS:
            continue
        form = m.normalized_form().lower()
        subs = [s for s in m.split(SplitMode.A) if s.part_of_speech()[0] not in _SKIP_POS]
        if len(subs) > 1:
            tokens.extend(s.normalized_form().lower() for s in subs)
        tokens.append(form)
        skeleton = _kanji_skeleton(form)
        if skeleton:
            tokens.append(skeleton)
    return tuple(t for t in tokens if t.strip())


_NOUN_SKIP = {"代名詞", "数詞"}


@lru_cache(maxsize=4096)
def content_nouns(text: str) -> tuple[str, ...]:
    """The nouns of ``text`` as index tokens (compounds and their parts): what a question is about.

    Verbs, particles and question words say how something is asked, not what about; the share of
    these nouns an answer covers is one of the engine's evidence signals.
    """
    from sudachipy import SplitMode

    text = normalize(text)
    out: list[str] = []
    for m in _tokenizer().tokenize(text, SplitMode.C):
        pos = m.part_of_speech()
        if pos[0] != "名詞" or pos[1] in _NOUN_SKIP:
            continue
        # Sudachi spells some English words in katakana ("foreign" → フォーリン); keep them as typed.
        form = m.surface().lower() if m.surface().isascii() else m.normalized_form().lower()
        if len(form) < 2 and not _KANJI.match(form):
            continue
        parts = [s.normalized_form().lower() for s in m.split(SplitMode.A)]
        out.extend(p for p in (parts if len(parts) > 1 else []) if len(p) >= 2)
        out.append(form)
    return tuple(dict.fromkeys(out))


def noun_phrases(text: str) -> tuple[str, ...]:
    """Noun compounds as written ("事業連携協定", "自由提案"), three characters or longer.

    A question naming several things ("AとBの違い") needs a sentence about each of them; its
    compounds say which, even when their parts are common words on their own.
    """
    from sudachipy import SplitMode

    phrases, run = [], []
    for m in _tokenizer().tokenize(normalize(text), SplitMode.C):
        pos = m.part_of_speech()
        if pos[0] in {"名詞", "接頭辞", "接尾辞"} and pos[1] not in _NOUN_SKIP:
            run.append(m.surface())
            continue
        if run:
            phrases.append("".join(run))
        run = []
    if run:
        phrases.append("".join(run))
    return tuple(p for p in dict.fromkeys(phrases) if len(p) >= 3 and not p.isascii())


def fingerprint(ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


class LexicalIndex:
    """BM25 over a fixed list of chunk ids; scores are looked up by id position."""

    def __init__(self, ids: Sequence[str], token_lists: Sequence[list[str]]) -> None:
        self.ids = list(ids)
        self.fingerprint = fingerprint(self.ids)
        self._bm25 = bm25s.BM25()
        if self.ids:
            # bm25s wants at least one token per document.
            self._bm25.index([t or ["\u3000"] for t in token_lists], show_progress=False)

    def scores(self, query: str | list[str]) -> np.ndarray:
        """BM25 score of every indexed chunk, in ``ids`` order (zeros when nothing matches)."""
        tokens = tokenize(query) if isinstance(query, str) else query
        if not self.ids or not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        vocab = self._bm25.vocab_dict
        known = [t for t in tokens if t in vocab]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return self._bm25.get_scores(known)

    # --- persistence ----------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self.ids:
            self._bm25.save(str(directory / "bm25"), show_progress=False)
        tmp = directory / "ids.json.tmp"
        tmp.write_text(json.dumps({"fingerprint": self.fingerprint, "ids": self.ids}), "utf-8")
        tmp.replace(directory / "ids.json")

    @classmethod
    def load(cls, directory: Path, expected_fingerprint: str) -> LexicalIndex | None:
        """The saved index if it matches the store's live chunks, else None (caller rebuilds)."""
        try:
            saved = json.loads((directory / "ids.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if saved.get("fingerprint") != expected_fingerprint:
            return None
        index = cls.__new__(cls)
        index.ids = saved["ids"]
        index.fingerprint = saved["fingerprint"]
        try:
            index._bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False) if index.ids \
                else bm25s.BM25()
        except (OSError, ValueError):
            return None
        return index
