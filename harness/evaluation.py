"""Score one case: per-item rows of every target kind (the lm-evaluation-harness idea:
per-case results here, dataset-level aggregation in `mskbench.harness.summary` and
`mskbench.harness.metrics.classification`).

Metric rows are ``(case_id, split, structure, metric, value)``; image-level values (pixel
accuracy) use structure ``__case__``; flags (absent, both_empty, spurious) are 0/1.
Three generic parts, each present when the prediction and the task have it:

- segmentation rows of the predicted label map (`evaluate_segmentation`);
- for each extra mask of the task (`MaskTarget`) that the prediction holds: pixel scores
  inside the mask's ``within`` structures of the *reference* label map (all pixels when
  it names none) — `fat_pixel_metrics`: sensitivity (recall), specificity, PPV
  (precision), NPV, accuracy, F1, kappa, AUROC (NaN without a probability map) — plus the
  pixel counts ``tp``, ``fp``, ``fn``, ``tn`` so pooled scores can be computed; the
  structure is the mask's name;
- the task's own rows from its ``evaluator`` (``TaskSpec.evaluator``).

Classification targets get score rows (`case_score_rows`, the store's ``case_scores``):
``(case_id, split, target, class, score, reference)`` — for a binary target one row, class
``positive``, score = P(positive); for an ordinal or multiclass target one row per class
with its probability; ``reference`` is the case's class as written in cases.csv (None when
missing). AUROC, kappa and the other classification metrics are aggregations over cases.

Data-level attributes for strata — each structure's reference values (every metric named
``*_ref``: map means ``ff_ref``, a task evaluator's ``fi_ref``), ``ref_voxels``, and the
case's cases.csv columns (site, group, side, level, ...) — become ``attributes`` rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mskbench.harness.metrics import evaluate_segmentation, fat_pixel_metrics
from mskbench.harness.registry import load_reference
from mskbench.tasks.case import Case, Prediction, Score
from mskbench.tasks.spec import TaskSpec
from mskbench.tasks.targets import ClassificationTarget, MaskTarget

CASE_LEVEL = "__case__"
IMAGE_LEVEL_METRICS = ("pixel_accuracy", "foreground_pixel_accuracy")
#: Pixel counts stored beside each mask's scores (pooled scores come from their sums).
MASK_COUNTS = ("tp", "fp", "fn", "tn")
_NOT_METRICS = {"label", "value"}
_ID_COLUMNS = {"case_id", "subject_id"}
_ROW_COLUMNS = ["structure", "metric", "value"]
SCORE_COLUMNS = ["case_id", "split", "target", "class", "score", "reference"]
#: How far the class probabilities of an ordinal/multiclass prediction may sum from 1.
PROBABILITY_SUM_TOLERANCE = 1e-3


def check_prediction(task: TaskSpec, case: Case, prediction: Prediction) -> None:
    """Raise ``ValueError`` naming the case when ``prediction`` does not fit the task/case."""
    where = f"case {case.case_id}"
    if prediction.is_empty:
        raise ValueError(f"{where}: the prediction holds no label map, mask or case score")
    if (prediction.label is not None or prediction.masks) and task.segmentation is None:
        raise ValueError(f"{where}: task {task.name} has no label map to compare a map with")
    unknown = sorted(set(prediction.scores) - {t.name for t in task.classification})
    if unknown:
        known = [t.name for t in task.classification]
        raise ValueError(
            f"{where}: scores for {unknown}, which are not classification targets of task "
            f"{task.name} ({known})"
        )
    for name, score in prediction.scores.items():
        class_probabilities(task.target(name), score, where)  # raises when malformed
    if prediction.label is None and not prediction.masks:
        return
    shape = case.grid.shape
    if prediction.label is not None and prediction.label.shape != shape:
        raise ValueError(f"{where}: prediction shape {prediction.label.shape} != reference {shape}")
    unknown = sorted(set(prediction.masks) - set(task.mask_names))
    if unknown:
        raise ValueError(
            f"{where}: predicted mask(s) {unknown} are not masks of task {task.name} "
            f"({list(task.mask_names)})"
        )
    for kind, arrays in (
        ("mask", prediction.masks),
        ("mask probability", prediction.mask_probabilities),
    ):
        for name, array in arrays.items():
            if array.shape != shape:
                raise ValueError(
                    f"{where}: predicted {kind} {name!r} has shape {array.shape}, reference {shape}"
                )
    _check_values(task, prediction, where)


def _check_values(task: TaskSpec, prediction: Prediction, where: str) -> None:
    """A model's arrays hold what the protocol says: label values of the task, 0/1 masks,
    probabilities in [0, 1] (a plugin bug becomes a clear error, not a wrong number)."""
    if prediction.label is not None:
        outside = sorted(set(np.unique(prediction.label).tolist()) - set(task.label_values))
        if outside:
            raise ValueError(
                f"{where}: predicted label value(s) {outside[:10]} are not in the label map of "
                f"task {task.name} (0..{max(task.label_values)})"
            )
    for name, mask in prediction.masks.items():
        if not np.isin(np.asarray(mask), (0, 1)).all():
            raise ValueError(f"{where}: predicted mask {name!r} holds values other than 0 and 1")
    arrays = [("mask probability " + repr(n), a) for n, a in prediction.mask_probabilities.items()]
    if prediction.probabilities is not None:
        arrays.append(("label probabilities", prediction.probabilities))
    for what, array in arrays:
        values = np.asarray(array, dtype=np.float64)
        if not (
            np.isfinite(values).all() and values.min(initial=0) >= 0 and values.max(initial=0) <= 1
        ):
            raise ValueError(f"{where}: {what} must be finite and in [0, 1]")


def class_probabilities(target: ClassificationTarget, score: Score, where: str) -> list[float]:
    """The probabilities a prediction gives ``target`` in `ClassificationTarget.score_classes`
    order; ``ValueError`` naming ``where`` and the target for anything malformed."""
    what = f"{where}: target {target.name!r}"
    if target.kind == "binary":
        if isinstance(score, bool) or not isinstance(score, int | float | np.number):
            raise ValueError(f"{what} takes one probability of class positive, got {score!r}")
        values = [float(score)]
    else:
        if isinstance(score, dict):
            extra = sorted(set(map(str, score)) - set(target.classes))
            missing = [c for c in target.classes if c not in map(str, score)]
            if extra or missing:
                raise ValueError(
                    f"{what} takes one probability per class {list(target.classes)}; "
                    f"missing {missing}, unknown {extra}"
                )
            score = [{str(k): v for k, v in score.items()}[c] for c in target.classes]
        try:
            values = [float(v) for v in score]  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise ValueError(f"{what} takes numbers, one per class, got {score!r}") from None
        if len(values) != len(target.classes):
            raise ValueError(
                f"{what} takes {len(target.classes)} probabilities (classes "
                f"{list(target.classes)}), got {len(values)}"
            )
    if not all(np.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"{what}: probabilities must be finite and in [0, 1], got {values}")
    if target.kind != "binary" and abs(sum(values) - 1.0) > PROBABILITY_SUM_TOLERANCE:
        raise ValueError(f"{what}: class probabilities sum to {sum(values):.4g}, not 1")
    return values


def case_score_rows(task: TaskSpec, case: Case, prediction: Prediction, split: str) -> pd.DataFrame:
    """Rows of the store's ``case_scores`` for the targets ``prediction`` scores (see the
    module docstring): probabilities per class with the case's reference class. A binary
    view ``derived_from`` a predicted grade that the prediction does not score itself gets
    its score from the grade's probabilities."""
    where = f"case {case.case_id}"
    scores = dict(prediction.scores)
    for target in task.classification:  # binary views of a predicted grade
        source = target.derived_from
        if target.name not in scores and source is not None and source in scores:
            probabilities = class_probabilities(task.target(source), scores[source], where)
            source_classes = task.target(source).classes
            scores[target.name] = target.derive(
                dict(zip(source_classes, probabilities, strict=True))
            )
    rows = []
    for name, score in scores.items():
        target = task.target(name)
        assert isinstance(target, ClassificationTarget)
        values = class_probabilities(target, score, where)
        reference = case.targets.get(name)
        for klass, value in zip(target.score_classes, values, strict=True):
            rows.append((case.case_id, split, name, klass, value, reference))
    return pd.DataFrame(rows, columns=SCORE_COLUMNS).astype({"score": float})


def case_metric_rows(
    task: TaskSpec, case: Case, prediction: Prediction | np.ndarray, split: str
) -> pd.DataFrame:
    """Long metric rows of one prediction (a `Prediction`, or a bare label map) against the
    case's reference (see the module docstring); no rows for a prediction of case scores
    only (those go to `case_score_rows`)."""
    if not isinstance(prediction, Prediction):
        prediction = Prediction(label=np.asarray(prediction))
    check_prediction(task, case, prediction)
    parts = []
    if prediction.label is not None:
        parts.append(_segmentation_rows(task, case, prediction.label))
    parts += [
        _mask_rows(mask, task, case, prediction)
        for mask in task.masks
        if mask.name in prediction.masks
    ]
    if task.evaluator is not None:
        extra = load_reference(task.evaluator)(task, case, prediction)
        parts.append(pd.DataFrame(extra, columns=_ROW_COLUMNS))
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_ROW_COLUMNS)
    rows["value"] = rows["value"].astype(float)
    rows.insert(0, "case_id", case.case_id)
    rows.insert(1, "split", split)
    return rows


def _mask_rows(
    mask: MaskTarget, task: TaskSpec, case: Case, prediction: Prediction
) -> pd.DataFrame:
    """Pixel scores of one predicted mask inside its ``within`` structures of the reference."""
    if mask.name not in case.masks:
        raise ValueError(f"case {case.case_id}: no reference mask {mask.name!r} was loaded")
    reference = case.masks[mask.name].astype(bool)
    predicted = np.asarray(prediction.masks[mask.name]).astype(bool)
    if mask.within:
        region = np.isin(case.label, [task.labels[name] for name in mask.within])
    else:
        region = np.ones(reference.shape, dtype=bool)
    scores = fat_pixel_metrics(
        reference, predicted, region, prediction.mask_probabilities.get(mask.name)
    )
    ref, pred = reference[region], predicted[region]
    counts = {
        "tp": np.count_nonzero(ref & pred),
        "fp": np.count_nonzero(~ref & pred),
        "fn": np.count_nonzero(ref & ~pred),
        "tn": np.count_nonzero(~ref & ~pred),
    }
    values = {**scores, **counts}
    return pd.DataFrame(
        {"structure": mask.name, "metric": list(values), "value": list(values.values())}
    )


def _segmentation_rows(task: TaskSpec, case: Case, prediction: np.ndarray) -> pd.DataFrame:
    """Rows of `evaluate_segmentation` plus the image-level pixel accuracies."""
    table = evaluate_segmentation(
        case.label,
        prediction,
        case.spacing,
        task.labels,
        maps=case.maps or None,
        nsd_tolerance_mm=task.nsd_tolerance_mm,
    )
    metric_columns = [c for c in table.columns if c not in _NOT_METRICS]
    numeric = table[metric_columns].astype(float).set_index(table["label"].rename("structure"))
    long = (
        numeric.stack(future_stack=True)
        .rename("value")
        .reset_index()
        .rename(columns={"level_1": "metric"})
    )
    image_level = {k: table.attrs[k] for k in IMAGE_LEVEL_METRICS}
    case_level = pd.DataFrame(
        {"structure": CASE_LEVEL, "metric": list(image_level), "value": list(image_level.values())}
    )
    return pd.concat([long, case_level], ignore_index=True)


def attribute_rows(task: TaskSpec, case: Case, metric_rows: pd.DataFrame) -> pd.DataFrame:
    """Per-structure reference values (``*_ref``, ``ref_voxels``) and per-case table columns
    of ``case``."""
    refs = metric_rows[
        metric_rows.metric.str.endswith("_ref") | (metric_rows.metric == "ref_voxels")
    ]
    rows: list[dict[str, Any]] = [
        {
            "case_id": case.case_id,
            "structure": r.structure,
            "attribute": r.metric,
            "value_num": r.value,
            "value_text": None,
        }
        for r in refs.itertuples()
    ]
    for key, value in case.attributes.items():
        if key in _ID_COLUMNS:
            continue
        numeric = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool
        )
        rows.append(
            {
                "case_id": case.case_id,
                "structure": CASE_LEVEL,
                "attribute": key,
                "value_num": float(value) if numeric else None,
                "value_text": None if numeric else str(value),
            }
        )
    return pd.DataFrame(
        rows, columns=["case_id", "structure", "attribute", "value_num", "value_text"]
    )


class FoldRows:
    """The rows one fold stores, gathered case by case: metric rows, score rows, attribute
    rows and the paths of written predictions — the frames `Store.write_fold` takes
    (`frames`), whether a model, a scored submission or an ensemble made the predictions."""

    def __init__(self, task: TaskSpec) -> None:
        self.task = task
        self._metrics: list[pd.DataFrame] = []
        self._scores: list[pd.DataFrame] = []
        self._attributes: list[pd.DataFrame] = []
        self._paths: list[dict[str, str]] = []

    def add(self, case: Case, prediction: Prediction, split: str) -> None:
        """Score ``prediction`` of ``case`` (split ``test`` or ``external``); raises on a
        prediction that breaks the task's rules (before anything of it is written)."""
        rows = case_metric_rows(self.task, case, prediction, split)
        self._metrics.append(rows)
        self._scores.append(case_score_rows(self.task, case, prediction, split))
        self._attributes.append(attribute_rows(self.task, case, rows))

    def add_path(self, case_id: str, split: str, path: Path | None) -> None:
        """Record the file a scored prediction was written to (None: no file)."""
        if path is not None:
            self._paths.append({"case_id": case_id, "split": split, "path": str(path.resolve())})

    def frames(self) -> dict[str, pd.DataFrame]:
        """``metrics``, ``scores``, ``predictions`` and ``attributes`` (one row per case,
        structure and attribute) of every case added."""
        return {
            "metrics": pd.concat(self._metrics, ignore_index=True),
            "scores": pd.concat(self._scores, ignore_index=True),
            "predictions": pd.DataFrame(self._paths, columns=["case_id", "split", "path"]),
            "attributes": pd.concat(self._attributes, ignore_index=True).drop_duplicates(
                ["case_id", "structure", "attribute"]
            ),
        }
