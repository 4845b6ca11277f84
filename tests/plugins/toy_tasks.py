"""Two small case-level classification tasks for tests, registered through
``MSKBENCH_TASKS`` (``toy_binary=tests/plugins/toy_tasks.py:TOY_BINARY,...``):

- ``toy_binary``: one 2D series, no label map, a binary target ``lesion`` (a bright blob
  in the slice or not, under noise), 3-fold CV, bootstrap CIs;
- ``toy_grades``: two series of different grids (``sagittal`` 24 × 20, ``axial`` 32 × 32)
  and an ordinal target ``grade`` 0–3 (brightness of a blob in both views) with a binary
  view ``severe`` = grades 2–3 vs 0, grade 1 excluded; t intervals over folds.

Phantoms are tiny (seconds), deterministic for a seed, and written through the data
contract like every task's. The specs are pure Python: numpy is imported by the generators
only, so listing tasks stays light (as for the built-in tasks).
"""

from __future__ import annotations

from pathlib import Path

from mskbench.tasks import (
    Citation,
    ClassificationTarget,
    ProfileSpec,
    PublishedValue,
    SeriesSpec,
    SplitProtocol,
    TaskSpec,
    binary_target,
)

HERE = Path(__file__).resolve()
CITATION = Citation("Test A", "A toy task", "Tests 1:1", 2026, "10.0000/toy", "none")
CLASSIFICATION_METRICS = ("auroc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "f1", "kappa")  # fmt: skip


def _profiles(n_cases: int) -> dict[str, ProfileSpec]:
    return {
        name: ProfileSpec(name, f"{n_cases} cases", phantom={"n_cases": n_cases}, max_epochs=1)
        for name in ("smoke", "quick", "paper")
    }


def _blob(shape: tuple[int, int], centre: tuple[float, float], radius: float):
    import numpy as np

    y, x = np.mgrid[: shape[0], : shape[1]]
    return ((y - centre[0]) ** 2 + (x - centre[1]) ** 2 <= radius**2).astype(np.float32)


def generate_binary(n_cases: int, seed: int):
    """Cases of ``toy_binary``: half with a lesion (a blob 0.6 brighter), noise SD 0.5."""
    import numpy as np

    from mskbench.tasks.contract import CaseArrays

    rng = np.random.default_rng(seed)
    for i in range(n_cases):
        lesion = int(i % 2)
        image = rng.normal(1.0, 0.5, (32, 32)).astype(np.float32)
        image += 0.6 * lesion * _blob((32, 32), tuple(rng.uniform(10, 22, 2)), 6)
        yield CaseArrays(
            case_id=f"b{i:03d}",
            image=image[None],
            label=None,
            spacing=(1.0, 1.0),
            row={"subject_id": f"p{i:03d}", "site": "A", "lesion": lesion},
        )


def generate_grades(n_cases: int, seed: int):
    """Cases of ``toy_grades``: grade g makes a blob 0.4·g brighter in both series."""
    import numpy as np

    from mskbench.tasks.contract import CaseArrays

    rng = np.random.default_rng(seed)
    for i in range(n_cases):
        grade = i % 4
        sagittal = rng.normal(1.0, 0.4, (24, 20)).astype(np.float32)
        sagittal += 0.4 * grade * _blob((24, 20), (12, 10), 5)
        axial = rng.normal(1.0, 0.4, (32, 32)).astype(np.float32)
        axial += 0.4 * grade * _blob((32, 32), (16, 16), 7)
        yield CaseArrays(
            case_id=f"g{i:03d}",
            image=sagittal[None],
            label=None,
            spacing=(0.8, 0.8),
            row={"subject_id": f"q{i:03d}", "site": "A", "grade": grade},
            other_series={"axial": (axial[None], (1.0, 1.0))},
        )


TOY_BINARY = TaskSpec(
    name="toy_binary",
    version=1,
    title="Toy lesion detection (tests)",
    citation=CITATION,
    anatomy="none",
    protocol="3-fold CV",
    series=(SeriesSpec("axial", ("T1w",), 2),),
    targets=(binary_target("lesion", ci="bootstrap"),),
    published=(
        PublishedValue(
            "Table 9", "paper_cnn", "auroc", 0.91, target="lesion", ci_low=0.85, ci_high=0.97, n=120
        ),
    ),
    split=SplitProtocol(kind="kfold", n_folds=3, description="3-fold CV"),
    metrics=CLASSIFICATION_METRICS,
    primary_metric="auroc",
    phantom=f"{HERE}:generate_binary",
    profiles=_profiles(36),
)

TOY_GRADES = TaskSpec(
    name="toy_grades",
    version=1,
    title="Toy grading from two views (tests)",
    citation=CITATION,
    anatomy="none",
    protocol="3-fold CV stratified by grade",
    series=(SeriesSpec("sagittal", ("T2w",), 2), SeriesSpec("axial", ("PD",), 2)),
    targets=(
        ClassificationTarget("grade", "grade", "ordinal", ("0", "1", "2", "3"), ci="folds"),
        ClassificationTarget(
            "severe",
            "grade",
            "binary",
            ("0", "1", "2", "3"),
            positive=("2", "3"),
            negative=("0",),
            excluded=("1",),
            ci="folds",
        ),
    ),
    split=SplitProtocol(
        kind="kfold", n_folds=3, stratify_by="grade", description="3-fold CV by grade"
    ),
    metrics=(*CLASSIFICATION_METRICS, "qwk"),
    primary_metric="qwk",
    phantom=f"{HERE}:generate_grades",
    profiles=_profiles(36),
)

#: The value of ``MSKBENCH_TASKS`` that registers both.
ENVIRONMENT = f"toy_binary={HERE}:TOY_BINARY,toy_grades={HERE}:TOY_GRADES"
