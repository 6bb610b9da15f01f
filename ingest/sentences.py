"""Sentence units of a chunk: the pieces an answer quotes and the retriever matches one by one.

Long everyday questions match a passage through one of its sentences, not through the passage as
a whole ("small-to-big": match the sentence, return its passage).  A unit is a sentence of running
text, a table row ("項目：内容"), or a run of short list items under one heading, joined — a list
of resources or roles only means something together with its heading.  Pure: the same chunk text
always gives the same units, so units computed at ingest line up with the stored vectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPLIT = re.compile(r"(?<=[。！？!?])")
_BULLET = re.compile(r"^(?:[-*・●〇○◯]|\d+[.)．]|\|)\s*")
_SUBHEADING = re.compile(r"^【(.+)】$")
# List items up to this length are joined into one unit with their neighbours.
SHORT_ITEM = 40
MIN_CHARS = 4
MAX_UNIT_CHARS = 400
MAX_LIST_CHARS = 100


@dataclass(frozen=True)
class Unit:
    heading: str  # the inline 【…】 sub-heading the unit sits under ("" when none)
    text: str

    def embed_text(self, section_leaf: str = "") -> str:
        """What the model sees: the heading (or the section's last part) gives a bare list its topic."""
        head = self.heading or section_leaf
        return f"{head}：{self.text}" if head and head not in self.text else self.text


def _row(line: str) -> str:
    cells = [c.strip() for c in line.strip("|").split("|") if c.strip()]
    return "：".join(cells)


def split_units(text: str) -> list[Unit]:
    """Units of a chunk's text, in order (see the module docstring)."""
    units: list[Unit] = []
    heading = ""
    items: list[str] = []

    def flush_items() -> None:
        # A long run (the steps of a flow) is cut into groups: one unit holding every step would
        # match every question about the process and say nothing in particular.
        group: list[str] = []
        for item in items + [None]:
            if item is None or (group and len("、".join(group + [item])) > MAX_LIST_CHARS):
                joined = "、".join(group)
                if len(joined) >= MIN_CHARS:
                    units.append(Unit(heading, joined[:MAX_UNIT_CHARS]))
                group = []
            if item is not None:
                group.append(item)
        items.clear()

    for raw in text.split("\n"):
        line = raw.strip()
        if not line or set(line) <= set("|-: "):
            continue
        sub = _SUBHEADING.match(line)
        if sub:
            flush_items()
            heading = sub.group(1)
            continue
        is_item = bool(_BULLET.match(line)) and not line.startswith("|")
        if line.startswith("|"):
            line = _row(line)
        line = _BULLET.sub("", line).strip()
        if is_item and len(line) <= SHORT_ITEM and "。" not in line.rstrip("。"):
            items.append(line.rstrip("。"))
            continue
        flush_items()
        for part in _SPLIT.split(line):
            part = part.strip()
            if len(part) >= MIN_CHARS:
                units.append(Unit(heading, part[:MAX_UNIT_CHARS]))
    flush_items()
    return units


# --- stored with the chunk -------------------------------------------------------------------------
# Units and their vectors travel in the chunk's metadata ("units": JSON, "unit_vectors": base64 of
# float16), so a query costs one embedding and the units always match the chunk they came from.
UNITS_KEY = "units"
VECTORS_KEY = "unit_vectors"
CHUNK_VECTOR_KEY = "vector"


def unit_texts(chunk_text: str, title: str, section: str, doc_type: str) -> tuple[list[Unit], list[str]]:
    """The chunk's units and the texts to embed for them (heading or section leaf as topic).

    A case study's units also carry the case title: 「撮影機材一式」 is about one case only.
    """
    leaf = section.split(" > ")[-1] if section else ""
    units = split_units(chunk_text)
    texts = []
    for u in units:
        text = u.embed_text(leaf)
        if doc_type == "case_study" and title and title not in text:
            text = f"{title} {text}"
        texts.append(text)
    return units, texts


def encode_vectors(vectors) -> str:
    import base64

    import numpy as np

    return base64.b64encode(np.asarray(vectors, dtype=np.float16).tobytes()).decode("ascii")


def decode_vector(blob: str):
    """The flat float32 array of an ``encode_vectors`` blob."""
    import base64

    import numpy as np

    return np.frombuffer(base64.b64decode(blob), dtype=np.float16).astype(np.float32)


def decode_vectors(blob: str, dim: int):
    return decode_vector(blob).reshape(-1, dim)


def unit_metadata(chunks, embeddings) -> tuple[list[dict], list[list[float]]]:
    """Per chunk: its units with their vectors and its own vector; all embedded in one batch.

    The chunk's vector is kept in its metadata too, so readers load every vector with the
    metadata they read anyway (Chroma's ``include=["embeddings"]`` is not needed at query time).
    """
    import json

    per_chunk, flat = [], [c.context_text() for c in chunks]
    for c in chunks:
        units, texts = unit_texts(c.text, c.title, c.section, str(c.doc_meta.get("doc_type", "")))
        per_chunk.append(units)
        flat.extend(texts)
    vectors = embeddings.embed_documents(flat) if flat else []
    chunk_vectors, unit_vectors = vectors[:len(chunks)], vectors[len(chunks):]
    out, at = [], 0
    for units, own in zip(per_chunk, chunk_vectors, strict=True):
        vecs = unit_vectors[at:at + len(units)]
        at += len(units)
        out.append({UNITS_KEY: json.dumps([[u.heading, u.text] for u in units], ensure_ascii=False),
                    VECTORS_KEY: encode_vectors(vecs) if units else "", CHUNK_VECTOR_KEY: encode_vectors([own])})
    return out, chunk_vectors
