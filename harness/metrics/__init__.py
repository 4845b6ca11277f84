"""Metrics engine (pure numpy/scipy/pandas; no torch). Conventions: docs/metrics.md.

Per case: `evaluate_segmentation` (overlap, surface, volume and map metrics per structure).
Across cases: `with_worst_case_distances`, `absence_rate`, `outlier_rates`, `summarize`.
Instances and AP (seed 002): `instance_table`, `detection_summary`. Areas, FI, rCSA and
their errors (seed 002): `cross_sectional_areas`, `percentage_errors`. Binary
classification of cases and of fat pixels: `classify_cases`, `classification_table`,
`fat_pixel_metrics`.
"""

from importlib import import_module
from typing import Any

from mskbench.harness.metrics.catalog import METRICS, MetricInfo, metric_info

# Public names → defining module. Imported on first access (PEP 562) so that importing the
# pure-Python catalogue (task specs do, at import time) does not load numpy/scipy/pandas.
_LAZY = {
    "TukeyFence": "aggregate",
    "absence_rate": "aggregate",
    "outlier_rates": "aggregate",
    "summarize": "aggregate",
    "with_worst_case_distances": "aggregate",
    "binary_metrics": "classification",
    "classification_table": "classification",
    "classify_cases": "classification",
    "fat_pixel_metrics": "classification",
    "cross_sectional_areas": "derived",
    "percentage_errors": "derived",
    "average_precision": "instances",
    "detection_summary": "instances",
    "instance_table": "instances",
    "evaluate_segmentation": "segmentation",
    "image_diagonal_mm": "segmentation",
}

__all__ = ["METRICS", "MetricInfo", "metric_info", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f"mskbench.harness.metrics.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mskbench.harness.metrics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
