"""Fit the answer-or-abstain rule on the development sets, with k-fold cross-validation.

    ppp-desk calibrate [--set FILE ...] [--folds K]

For every development item the engine gathers its evidence exactly as it would to answer; the
signals of items the rule actually decides (not refused by a safety pattern, not stopped for a
missing kind of answer, not a contact request) train a small logistic model whose label is
"the documents answer this".  Fold k's model is fitted without fold k's items, and
``ppp-desk eval`` scores each development item with its own fold's model — the figures it prints
for those items are held-out figures, never figures on the data a model was fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from bot.engine.decide import Calibration, Model, assign_folds, fit, save_calibration
from bot.engine.engine import Engine
from bot.engine.safety import is_refusal

DEFAULT_FOLDS = 5


@dataclass(frozen=True)
class Example:
    id: str
    answerable: bool
    decided_by_rule: bool  # False when a safety pattern, a missing answer type or the contact decides
    features: tuple[float, ...]


def collect(engine: Engine, items: list[dict]) -> list[Example]:
    """The evidence signals of every item, as the engine measures them before deciding."""
    out = []
    for item in items:
        q = engine.read(item["q"])
        if not q.text or is_refusal(q.text):
            out.append(Example(item["id"], bool(item["answerable"]), False, ()))
            continue
        evidence = engine.gather(q)
        by_rule = bool(evidence.chosen) and not evidence.missing_types and evidence.contact is None
        out.append(Example(item["id"], bool(item["answerable"]), by_rule, tuple(evidence.signals.vector())))
    return out


def fit_folds(examples: list[Example], k: int = DEFAULT_FOLDS) -> tuple[Model, dict[str, int], tuple[Model, ...]]:
    """(model on everything, item → fold, one model per fold fitted without that fold's items)."""
    ids = [e.id for e in examples]
    folds = assign_folds(ids, [int(e.answerable) for e in examples], k)
    usable = [e for e in examples if e.decided_by_rule]

    def fit_on(subset: list[Example]) -> Model:
        if not subset or len({e.answerable for e in subset}) < 2:
            return Model()
        x = np.array([e.features for e in subset], dtype=np.float64)
        y = np.array([1.0 if e.answerable else 0.0 for e in subset])
        return fit(x, y)

    full = fit_on(usable)
    per_fold = tuple(fit_on([e for e in usable if folds[e.id] != f]) for f in range(k))
    return full, folds, per_fold


def calibrate(engine: Engine, sets: dict[str, list[dict]], k: int = DEFAULT_FOLDS) -> Calibration:
    """Fit on all the given sets together and return the calibration (not yet saved)."""
    items = [item for rows in sets.values() for item in rows]
    seen: set[str] = set()
    for item in items:
        if item["id"] in seen:
            raise ValueError(f"item id {item['id']!r} appears twice across the calibration sets")
        seen.add(item["id"])
    examples = collect(engine, items)
    full, folds, per_fold = fit_folds(examples, k)
    return Calibration(model=full, weights=engine.calibration.weights, folds=folds, fold_models=per_fold,
                       fitted_on=tuple(sets), report={"fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                                      "items": len(items), "folds": k,
                                                      "decided_by_rule": sum(e.decided_by_rule for e in examples)})


def refit(engine: Engine, sets: dict[str, list[dict]], k: int = DEFAULT_FOLDS) -> Calibration:
    """Fit, save to the shipped file and make ``engine`` use the new calibration."""
    calibration = calibrate(engine, sets, k)
    save_calibration(calibration)
    engine.calibration = calibration
    return calibration
