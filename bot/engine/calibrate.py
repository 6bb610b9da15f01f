"""Fit the answer-or-abstain rule on the development sets, with k-fold cross-validation.

    ppp-desk calibrate [--set FILE ...] [--folds K]

For every development item the engine gathers its evidence exactly as it would to answer; the
signals of items the rule actually decides (not refused by a safety pattern, not stopped for a
missing kind of answer, not a contact request) train a small logistic model whose label is
"the documents answer this".  The scoring weights are picked from a small grid by how many
answers hold their facts.  Fold k's weights and model are fitted without fold k's items, and
``ppp-desk eval`` scores each development item with its own fold's model — the figures it prints
for those items are held-out figures, never figures on the data a model was fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import product

import numpy as np

from bot.engine.decide import Calibration, Model, assign_folds, fit, save_calibration
from bot.engine.engine import Engine, Turn
from bot.engine.evidence import Weights
from bot.engine.safety import is_refusal

DEFAULT_FOLDS = 5


# Scoring weights tried, each around the hand-set defaults; chosen per fold by facts on the others.
GRID: dict[str, tuple[float, ...]] = {
    "lexical": (0.05, 0.1, 0.2, 0.3),
    "passage": (0.25, 0.5, 0.75),
    "bm25": (0.0, 0.05, 0.1),
}


@dataclass(frozen=True)
class Example:
    id: str
    answerable: bool
    decided_by_rule: bool  # False when a safety pattern, a missing answer type or the contact decides
    features: tuple[float, ...]
    facts_ok: bool = False  # the composed answer holds the item's facts (answerable items)


def collect(engine: Engine, items: list[dict], weights: Weights | None = None) -> list[Example]:
    """The evidence signals of every item, as the engine measures them before deciding."""
    from bot.engine.evaluation import missing_groups

    out = []
    for item in items:
        turns = item.get("turns") or [item["q"]]
        history = [Turn(question=t) for t in turns[:-1]]
        if not turns[-1].strip() or is_refusal(turns[-1]):
            out.append(Example(item["id"], bool(item["answerable"]), False, ()))
            continue
        q, evidence = engine.understand(turns[-1], history, weights=weights)
        by_rule = bool(evidence.chosen) and not evidence.missing_types and evidence.contact is None
        facts = False
        if item["answerable"] and evidence.chosen and not evidence.missing_types:
            answer, _hits = engine.compose(q, evidence)
            facts = not missing_groups(answer.text, item.get("answer_must") or [])
        out.append(Example(item["id"], bool(item["answerable"]), by_rule, tuple(evidence.signals.vector()), facts))
    return out


def _fit_on(subset: list[Example]) -> Model:
    usable = [e for e in subset if e.decided_by_rule]
    if not usable or len({e.answerable for e in usable}) < 2:
        return Model()
    x = np.array([e.features for e in usable], dtype=np.float64)
    y = np.array([1.0 if e.answerable else 0.0 for e in usable])
    return fit(x, y)


def _best(grid: list[tuple[Weights, list[Example]]], ids: set[str]) -> tuple[Weights, list[Example]]:
    """The weights whose answers hold the most facts on ``ids`` (ties: the first, i.e. the default)."""
    def facts(examples: list[Example]) -> int:
        return sum(1 for e in examples if e.id in ids and e.facts_ok)

    return max(grid, key=lambda wx: facts(wx[1]))


def fit_folds(grid: list[tuple[Weights, list[Example]]], k: int = DEFAULT_FOLDS
              ) -> tuple[tuple[Weights, Model], dict[str, int], tuple[tuple[Weights, Model], ...]]:
    """(weights and model on everything, item → fold, per fold: weights and model fitted without it)."""
    examples = grid[0][1]
    ids = [e.id for e in examples]
    folds = assign_folds(ids, [int(e.answerable) for e in examples], k)
    all_ids = set(ids)
    weights, chosen = _best(grid, all_ids)
    full = (weights, _fit_on(chosen))
    per_fold = []
    for f in range(k):
        train = {i for i in ids if folds[i] != f}
        w, ex = _best(grid, train)
        per_fold.append((w, _fit_on([e for e in ex if e.id in train])))
    return full, folds, tuple(per_fold)


def calibrate(engine: Engine, sets: dict[str, list[dict]], k: int = DEFAULT_FOLDS) -> Calibration:
    """Fit on all the given sets together and return the calibration (not yet saved)."""
    items = [item for rows in sets.values() for item in rows]
    seen: set[str] = set()
    for item in items:
        if item["id"] in seen:
            raise ValueError(f"item id {item['id']!r} appears twice across the calibration sets")
        seen.add(item["id"])
    base = Weights()
    grid = []
    for values in product(*GRID.values()):
        w = replace(base, **dict(zip(GRID, values, strict=True)))
        grid.append((w, collect(engine, items, w)))
    grid.sort(key=lambda wx: wx[0] != base)  # the default first: it wins ties
    (weights, model), folds, per_fold = fit_folds(grid, k)
    return Calibration(model=model, weights=weights, folds=folds, fold_models=tuple(m for _w, m in per_fold),
                       fold_weights=tuple(w for w, _m in per_fold), fitted_on=tuple(sets),
                       report={"fitted_at": datetime.now(UTC).isoformat(timespec="seconds"), "items": len(items),
                               "folds": k, "grid": len(grid),
                               "decided_by_rule": sum(e.decided_by_rule for e in grid[0][1])})


def refit(engine: Engine, sets: dict[str, list[dict]], k: int = DEFAULT_FOLDS) -> Calibration:
    """Fit, save to the shipped file and make ``engine`` use the new calibration."""
    calibration = calibrate(engine, sets, k)
    save_calibration(calibration)
    engine.calibration = calibration
    return calibration
