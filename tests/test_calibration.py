"""The answer-or-abstain rule: fitted by k-fold CV, and evaluation only ever uses held-out models."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np

from bot.engine.calibrate import Example, fit_folds
from bot.engine.decide import CALIBRATION_FILE, Model, fit, load_calibration
from bot.engine.evidence import FEATURES, Signals, Weights


def _examples(seed: int = 3, n: int = 60) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        answerable = i % 3 != 0
        base = 0.9 if answerable else 0.8
        features = tuple(base + rng.gauss(0, 0.05) for _ in FEATURES)
        out.append(Example(f"q{i}", answerable, True, features, facts_ok=answerable and i % 2 == 0))
    return out


def test_each_fold_model_is_fitted_without_its_own_fold() -> None:
    examples = _examples()
    grid = [(Weights(), examples), (replace(Weights(), lexical=0.3), examples)]
    _full, folds, per_fold = fit_folds(grid, k=5)
    for fold in range(5):
        # Change what fold `fold` shows the fitter — its signals and whether its answers held their facts
        # (the labels only place items in folds) — and refit: that fold's weights and model must not move.
        changed = [replace(e, features=tuple(-3 * v for v in e.features), facts_ok=not e.facts_ok)
                   if folds[e.id] == fold else e for e in examples]
        _f, folds2, per_fold2 = fit_folds([(w, changed) for w, _ex in grid], k=5)
        assert folds2 == folds
        assert per_fold2[fold] == per_fold[fold]
        # …while the full model, which did see the fold, does move.
        assert _f != _full


def test_folds_are_stratified_and_cover_every_item() -> None:
    examples = _examples()
    _full, folds, _per = fit_folds([(Weights(), examples)], k=5)
    assert set(folds) == {e.id for e in examples}
    for fold in range(5):
        members = [e for e in examples if folds[e.id] == fold]
        assert any(e.answerable for e in members) and any(not e.answerable for e in members)


def test_the_threshold_keeps_refusals_of_answerable_training_questions_rare() -> None:
    rng = np.random.default_rng(1)
    dims = len(FEATURES)
    x = np.vstack([rng.normal(1.0, 0.3, (80, dims)), rng.normal(0.0, 0.3, (20, dims))])
    y = np.array([1.0] * 80 + [0.0] * 20)
    model = fit(x, y)
    refused = sum(1 for row in x[:80] if not model.answers(Signals(*row)))
    assert refused <= 4  # at most 5% of the answerable training questions


def test_the_shipped_calibration_names_its_folds_and_uses_held_out_models_for_them() -> None:
    calibration = load_calibration(CALIBRATION_FILE)
    assert calibration.folds and len(calibration.fold_models) == max(calibration.folds.values()) + 1
    item, fold = next(iter(calibration.folds.items()))
    assert calibration.model_for(item) is calibration.fold_models[fold]
    assert calibration.weights_for(item) is calibration.fold_weights[fold]
    assert calibration.model_for("a-question-nobody-fitted-on") is calibration.model


def test_a_missing_or_foreign_calibration_file_falls_back_to_answering_on_evidence(tmp_path) -> None:
    assert load_calibration(tmp_path / "none.json").model == Model()
    (tmp_path / "old.json").write_text('{"features": ["something", "else"]}', "utf-8")
    assert load_calibration(tmp_path / "old.json").model == Model()
