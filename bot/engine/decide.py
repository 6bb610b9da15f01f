"""Answer or abstain: a calibrated rule over measured signals, its few parameters in a data file.

The rule is a logistic model over the evidence signals (``bot.engine.evidence.FEATURES``), fitted
by ``ppp-desk calibrate`` on the development sets with k-fold cross-validation.  The file keeps the
model fitted on everything (used for new questions) and one model per fold fitted without that
fold, so ``ppp-desk eval`` can score every development item with a model that never saw it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from bot.engine.evidence import FEATURES, Signals, Weights

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
L2 = 20.0
# Share of answerable training questions the fitted threshold may refuse.
MAX_REFUSED = 0.05


@dataclass(frozen=True)
class Model:
    """Standardized logistic regression: answer when P(answerable) ≥ threshold."""

    coef: tuple[float, ...] = (0.0,) * len(FEATURES)
    intercept: float = 5.0  # unfitted: always answer (the evidence gates below still apply)
    mean: tuple[float, ...] = (0.0,) * len(FEATURES)
    scale: tuple[float, ...] = (1.0,) * len(FEATURES)
    threshold: float = 0.5

    def probability(self, signals: Signals) -> float:
        x = (np.asarray(signals.vector()) - np.asarray(self.mean)) / np.asarray(self.scale)
        z = float(x @ np.asarray(self.coef) + self.intercept)
        return 1.0 / (1.0 + np.exp(-z))

    def answers(self, signals: Signals) -> bool:
        return self.probability(signals) >= self.threshold


@dataclass(frozen=True)
class Calibration:
    model: Model = field(default_factory=Model)
    weights: Weights = field(default_factory=Weights)
    folds: dict[str, int] = field(default_factory=dict)  # eval item id → its fold
    fold_models: tuple[Model, ...] = ()  # fold k's model was fitted without fold k
    fold_weights: tuple[Weights, ...] = ()  # and so were fold k's scoring weights
    fitted_on: tuple[str, ...] = ()
    report: dict = field(default_factory=dict)  # cross-validated figures at fitting time

    def model_for(self, item_id: str | None) -> Model:
        """The held-out model for a development item; the full model for anything else."""
        if item_id is not None and item_id in self.folds and self.fold_models:
            return self.fold_models[self.folds[item_id]]
        return self.model

    def weights_for(self, item_id: str | None) -> Weights:
        """The held-out scoring weights for a development item; the shipped ones otherwise."""
        if item_id is not None and item_id in self.folds and self.fold_weights:
            return self.fold_weights[self.folds[item_id]]
        return self.weights

    def to_json(self) -> dict:
        return {"features": list(FEATURES), "model": asdict(self.model), "weights": asdict(self.weights),
                "folds": self.folds, "fold_models": [asdict(m) for m in self.fold_models],
                "fold_weights": [asdict(w) for w in self.fold_weights],
                "fitted_on": list(self.fitted_on), "report": self.report}


def _model(data: dict) -> Model:
    return Model(coef=tuple(data["coef"]), intercept=float(data["intercept"]), mean=tuple(data["mean"]),
                 scale=tuple(data["scale"]), threshold=float(data.get("threshold", 0.5)))


def _weights(data: dict) -> Weights:
    known = {f.name for f in fields(Weights)}
    return Weights(**{k: float(v) for k, v in data.items() if k in known})


def load_calibration(path: Path = CALIBRATION_FILE) -> Calibration:
    """The shipped calibration; the unfitted defaults when the file is missing or for other features."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return Calibration()
    if tuple(data.get("features", ())) != FEATURES:
        return Calibration()  # fitted for other signals: refit with `ppp-desk calibrate`
    return Calibration(model=_model(data["model"]), weights=_weights(data.get("weights", {})),
                       folds={k: int(v) for k, v in data.get("folds", {}).items()},
                       fold_models=tuple(_model(m) for m in data.get("fold_models", [])),
                       fold_weights=tuple(_weights(w) for w in data.get("fold_weights", [])),
                       fitted_on=tuple(data.get("fitted_on", ())), report=data.get("report", {}))


def save_calibration(calibration: Calibration, path: Path = CALIBRATION_FILE) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(calibration.to_json(), ensure_ascii=False, indent=1) + "\n", "utf-8")
    tmp.replace(path)


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2) -> Model:
    """L2-regularized logistic regression by Newton's method, thresholded for few refusals."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    a = np.hstack([z, np.ones((len(z), 1))])
    w = np.zeros(a.shape[1])
    reg = np.eye(a.shape[1]) * l2
    reg[-1, -1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(a @ w)))
        grad = a.T @ (p - y) + reg @ w
        hess = a.T @ (a * (p * (1 - p))[:, None]) + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    p = 1.0 / (1.0 + np.exp(-(a @ w)))
    # Refusing a question the documents answer fails the user outright, while an abstention still
    # hands over to the desk: the threshold keeps at most MAX_REFUSED of the answerable training
    # questions below it and catches what it can of the rest.
    pos = np.sort(p[y == 1])
    best_t = float(pos[int(np.floor(MAX_REFUSED * len(pos)))]) if len(pos) else 0.5
    return Model(coef=tuple(float(v) for v in w[:-1]), intercept=float(w[-1]), mean=tuple(float(v) for v in mean),
                 scale=tuple(float(v) for v in scale), threshold=best_t)


def assign_folds(ids: list[str], labels: list[int], k: int, seed: int = 7) -> dict[str, int]:
    """Stratified folds: each fold gets its share of answerable and unanswerable items."""
    rng = np.random.default_rng(seed)
    folds: dict[str, int] = {}
    for label in (0, 1):
        members = [i for i, lab in zip(ids, labels, strict=True) if lab == label]
        rng.shuffle(members)
        for n, item_id in enumerate(members):
            folds[item_id] = n % k
    return folds
