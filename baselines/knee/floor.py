"""`MrnetIntensityLR`: the torch-free floor of seed 001 — no learning from pixel patterns.

Per plane, intensity statistics of the central region of the stack (the middle 60 % of
slices, rows and columns, where the joint lies): mean, SD, the 5th/25th/50th/75th/95th/99th
percentiles, the share of pixels above 200 (fluid-bright on the fat-suppressed planes,
fat-bright on T1) and the spread of slice means. One scikit-learn logistic regression per
label on the standardised features of the task's planes (class weights balanced; the
``views`` hyper-parameter restricts the planes, as for the networks). Fitted on the
training and validation cases together (no epochs to stop early).

If this floor matched the CNNs, the phantom would be too easy (issue 15).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mskbench.harness.models.protocol import CaseSet, FitContext, FitReport
from mskbench.tasks.case import Case, Prediction

#: Percentiles (of the central region's uint8 values) used as features.
PERCENTILES = (5, 25, 50, 75, 95, 99)
BRIGHT = 200
_CENTRE = (0.2, 0.8)


def plane_features(stack: np.ndarray) -> np.ndarray:
    """Features of one plane ``(slices, rows, columns)`` (see the module docstring)."""
    s, r, c = stack.shape
    lo, hi = _CENTRE
    centre = stack[
        int(s * lo) : max(int(s * hi), int(s * lo) + 1),
        int(r * lo) : int(r * hi),
        int(c * lo) : int(c * hi),
    ].astype(np.float32)
    slice_means = centre.reshape(centre.shape[0], -1).mean(axis=1)
    return np.array(
        [
            centre.mean(),
            centre.std(),
            *np.percentile(centre, PERCENTILES),
            float(np.mean(centre > BRIGHT)),
            slice_means.std(),
        ],
        dtype=np.float64,
    )


def case_features(case: Case, views: tuple[str, ...]) -> np.ndarray:
    """The features of ``views`` (plane names) of one case, concatenated."""
    return np.concatenate([plane_features(case.images[v][0]) for v in views])


def parse_views(views: str, planes: tuple[str, ...]) -> tuple[str, ...]:
    """``"all"`` → every plane of the task, else a comma-separated subset (in task order);
    raises `ValueError` naming the allowed values."""
    if views == "all":
        return planes
    chosen = tuple(v.strip() for v in views.split(","))
    unknown = [v for v in chosen if v not in planes]
    if unknown or not chosen:
        raise ValueError(f"views {views!r}: use 'all' or a comma-separated subset of {planes}")
    return tuple(p for p in planes if p in chosen)


class MrnetIntensityLR:
    """Intensity statistics per plane + logistic regression per label (module docstring)."""

    def __init__(self, views: str = "all", c: float = 1.0) -> None:
        self.views = views
        self.c = c

    def get_params(self) -> dict[str, Any]:
        return {"views": self.views, "c": self.c}

    def fit(self, train: CaseSet, val: CaseSet, ctx: FitContext) -> FitReport:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.views_ = parse_views(self.views, tuple(s.name for s in ctx.task.series))
        targets = ctx.task.classification
        rows, outcomes = [], []
        for case_id in [*train.case_ids, *val.case_ids]:
            case = train.dataset.load(case_id)
            rows.append(case_features(case, self.views_))
            outcomes.append([t.outcome(case.targets.get(t.name)) for t in targets])
        x, y = np.array(rows), np.array(outcomes, dtype=float)
        self.models_ = {}
        for j, target in enumerate(targets):
            known = ~np.isnan(y[:, j])
            labels = y[known, j].astype(int)
            if len(np.unique(labels)) < 2:  # one class only: its share is the probability
                self.models_[target.name] = float(labels.mean()) if labels.size else 0.5
                continue
            classifier = LogisticRegression(C=self.c, class_weight="balanced", max_iter=5000)
            self.models_[target.name] = make_pipeline(StandardScaler(), classifier).fit(
                x[known], labels
            )
        return FitReport(epochs=1, best_epoch=1)

    def predict(self, case: Case, ctx: FitContext) -> Prediction:
        x = case_features(case, self.views_)[None]
        scores = {}
        for name, model in self.models_.items():
            scores[name] = (
                model if isinstance(model, float) else float(model.predict_proba(x)[0, 1])
            )
        return Prediction(scores=scores)
