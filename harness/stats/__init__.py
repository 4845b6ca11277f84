"""Statistics for mskbench: confidence intervals, agreement, hypothesis tests, DeLong.

Pure numpy/scipy/pandas plus pingouin/statsmodels where they do the job; no torch.
"""

from mskbench.harness.stats.agreement import BlandAltman, bland_altman, icc_a1
from mskbench.harness.stats.ci import bootstrap_interval, t_interval
from mskbench.harness.stats.comparisons import (
    TestResult,
    compare_groups,
    compare_models,
    compare_paired,
    holm,
)
from mskbench.harness.stats.delong import DeLongResult, delong_test

__all__ = [
    "BlandAltman",
    "DeLongResult",
    "TestResult",
    "bland_altman",
    "bootstrap_interval",
    "compare_groups",
    "compare_models",
    "compare_paired",
    "delong_test",
    "holm",
    "icc_a1",
    "t_interval",
]
