"""A tiny, torch-free case classifier for tests: logistic regression (scikit-learn) on the
mean and the 95th percentile of every series' intensities. It predicts case scores only —
no label map — for every classification target of the task: P(positive) for binary
targets, one probability per class for ordinal and multiclass ones."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.linear_model import LogisticRegression

from mskbench.harness.models import FitReport, Prediction


def features(case) -> np.ndarray:
    """Mean and 95th percentile of each series, in the task's series order."""
    return np.array([f(case.images[name]) for name in sorted(case.images) for f in (np.mean, _p95)])


def _p95(image: np.ndarray) -> float:
    return float(np.percentile(image, 95))


class MeanClassifier:
    """Logistic regression per classification target on intensity features."""

    tasks = ("toy_binary", "toy_grades")
    description = "test case classifier (logistic regression on intensity features)"
    hyperparameters: ClassVar[dict] = {"c": 1.0}

    def __init__(self, c: float = 1.0):
        self.c = c

    def get_params(self):
        return {"c": self.c}

    def fit(self, train, val, ctx):
        x = np.stack([features(case) for case in train])
        self.models_ = {}
        for target in ctx.task.classification:
            references = [target.outcome(case.targets[target.name]) for case in train]
            keep = np.array([r is not None for r in references])
            y = np.array([r for r in references if r is not None])
            model = LogisticRegression(C=self.c, max_iter=1000)
            self.models_[target.name] = (target, model.fit(x[keep], y))
        return FitReport(epochs=1, best_epoch=1)

    def predict(self, case, ctx):
        x = features(case)[None]
        scores = {}
        for name, (target, model) in self.models_.items():
            proba = model.predict_proba(x)[0]
            if target.kind == "binary":
                scores[name] = float(proba[list(model.classes_).index(1)])
            else:
                full = np.zeros(len(target.classes))
                full[model.classes_] = proba
                scores[name] = {c: float(p) for c, p in zip(target.classes, full, strict=True)}
        return Prediction(scores=scores)
