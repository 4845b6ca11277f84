"""`ShoulderThreshold`: the torch-free floor of seed 000's grading — no learning from pixels.

Inside the reference supraspinatus mask (the "manual ROI"), the Otsu threshold of the
pixel intensities (scikit-image) splits fat (bright on T2) from muscle; the case's
features are the **fat share** (pixels above the cut / ROI pixels) and the **muscle area**
relative to the median area of the grade-0/1 training cases (atrophy). A multinomial
logistic regression (scikit-learn) on the standardised features, fitted on the training
folds with classes weighted to balance (the networks see the minority oversampled to about
1:1, so the floor gets the same help), maps the two features to Goutallier grade
probabilities; the binary views (risky, 0–1 vs 2–4, 0–1 vs 2) follow
from them (`ClassificationTarget.derived_from`). It predicts no label map.

If this floor matched the networks, the phantom would be too easy (issue 13).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mskbench.harness.models.protocol import CaseSet, FitContext, FitReport
from mskbench.tasks.case import Case, Prediction

TARGET = "goutallier"


def fat_share(image: np.ndarray, roi: np.ndarray) -> float:
    """Share of the ROI's pixels above the Otsu threshold of its intensities (0 for a ROI
    of fewer than two distinct intensities)."""
    from skimage.filters import threshold_otsu

    pixels = image[roi]
    if pixels.size < 2 or pixels.min() == pixels.max():
        return 0.0
    return float(np.mean(pixels > threshold_otsu(pixels, nbins=256)))


def features(case: Case) -> tuple[float, float]:
    """``(fat share, ROI area in mm²)`` of the reference mask."""
    roi = case.label > 0
    return fat_share(case.image[0], roi), float(roi.sum() * np.prod(case.spacing))


class ShoulderThreshold:
    """Otsu cut in the reference ROI + logistic regression (see the module docstring)."""

    def __init__(self, c: float = 1.0) -> None:
        self.c = c

    def get_params(self) -> dict[str, Any]:
        return {"c": self.c}

    def _design(self, raw: list[tuple[float, float]]) -> np.ndarray:
        share, area = np.array(raw, dtype=float).T
        return np.column_stack([share, area / self.reference_area_])

    def fit(self, train: CaseSet, val: CaseSet, ctx: FitContext) -> FitReport:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        target = ctx.task.target(TARGET)
        raw, grades = [], []
        for case_id in [*train.case_ids, *val.case_ids]:  # no epochs: validation is data too
            case = train.dataset.load(case_id, with_maps=False)
            outcome = target.outcome(case.targets.get(TARGET))
            if outcome is not None:
                raw.append(features(case))
                grades.append(outcome)
        grades_ = np.array(grades)
        areas = np.array([a for _, a in raw])
        normal = areas[grades_ <= 1]
        self.reference_area_ = float(np.median(normal if normal.size else areas))
        self.classes_ = target.classes
        # Unscaled features under C = 1 and 2:1 majority shrink every fold to "always
        # grade 0" (measured: accuracy = the grade-0 share, sensitivity 0 on every cut).
        classifier = LogisticRegression(C=self.c, class_weight="balanced", max_iter=2000)
        self.model_ = make_pipeline(StandardScaler(), classifier).fit(self._design(raw), grades_)
        return FitReport(epochs=1, best_epoch=1)

    def predict(self, case: Case, ctx: FitContext) -> Prediction:
        proba = self.model_.predict_proba(self._design([features(case)]))[0]
        full = np.zeros(len(self.classes_))
        full[self.model_.classes_] = proba  # a grade absent from training gets 0
        return Prediction(scores={TARGET: dict(zip(self.classes_, map(float, full), strict=True))})
