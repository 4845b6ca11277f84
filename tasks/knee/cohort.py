"""Who is in the knee phantom: each exam's labels, findings, knee shape and side.

Label mix (`plan_labels`): training and external exams at the whole MRNet dataset's rates
as seed 001 reports them (1,104 abnormal, 319 ACL tears, 508 meniscal tears, 194 with both
of 1,370 exams); the test (``valid``) set at the seed's test composition scaled to its size
(120 exams: 95 abnormal, 54 ACL, 52 meniscus; `SEED_TEST`), counts by largest remainder.

Findings follow the labels (`findings_for`), as a radiologist reads them:

- ACL tear: mid-substance discontinuity; an effusion (haemarthrosis) in 70 %, bone bruises
  of the lateral femoral condyle and posterolateral tibial plateau in 60 % (the pivot-shift
  pattern);
- meniscal tear: a fluid-bright plane reaching the superior or inferior surface, 8-18 mm
  long (≥ two 3-4 mm slices); the medial posterior horn in 60 %, else another horn/side;
  an effusion in 40 %;
- abnormal without either: one or two of an effusion, a small marrow-oedema focus, a focal
  cartilage defect or a small Baker's cyst — MRNet's "abnormal" is mostly such modest
  findings, not florid ones;
- confounders in any exam: intrasubstance meniscal degeneration (signal that does not reach
  a surface: not a tear; 15 % of normal, 35 % of other exams, more with age) and joint fluid:
  every knee holds a trace to a small amount (`BASELINE_FLUID`), and 30 % of normal knees a
  small-to-moderate physiological effusion (`PHYSIOLOGICAL_EFFUSION`; small effusions are
  common in asymptomatic knees), so the amount of fluid overlaps between normal and
  abnormal knees instead of separating them.

Effusion is on `Findings.effusion`'s scale: 0 trace … 1 large.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mskbench.tasks.knee.anatomy import Findings, MeniscalTear, Shape

#: Whole-dataset rates of seed 001 (§III.A): abnormal, ACL, meniscus, both of 1,370 exams.
RATES = {"abnormal": 1104 / 1370, "acl": 319 / 1370, "meniscus": 508 / 1370, "both": 194 / 1370}
#: Seed 001's test set (MRNet valid, from Table I's rates): 120 exams.
SEED_TEST = {"n": 120, "abnormal": 95, "acl": 54, "meniscus": 52}
#: Exams with both tears in the seed's test set: not reported; the independent-given-abnormal
#: expectation 54·52/95 ≈ 30.
SEED_TEST_BOTH = 30
#: Joint fluid of every knee (uniform range), and of the 30 % of normal knees with a
#: physiological effusion; a pathological effusion's range.
BASELINE_FLUID = (0.0, 0.25)
PHYSIOLOGICAL_EFFUSION = (0.2, 0.55)
PHYSIOLOGICAL_SHARE = 0.3
PATHOLOGICAL_EFFUSION = (0.3, 1.0)


@dataclass(frozen=True)
class ExamPlan:
    """One exam: its labels (0/1), findings, knee shape, side and patient age (years)."""

    abnormal: int
    acl: int
    meniscus: int
    findings: Findings
    shape: Shape
    left: bool
    age: float


def _largest_remainder(shares: dict[str, float], n: int) -> dict[str, int]:
    """Integer counts summing to ``n`` in proportion to ``shares`` (Hamilton's method)."""
    raw = {k: v * n for k, v in shares.items()}
    counts = {k: int(np.floor(v)) for k, v in raw.items()}
    order = sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)
    for key in order[: n - sum(counts.values())]:
        counts[key] += 1
    return counts


def label_groups(n: int, test: bool) -> dict[str, int]:
    """Counts of exams per group ``acl_only``, ``meniscus_only``, ``both``, ``other``
    (abnormal without either tear) and ``normal`` among ``n`` exams."""
    if test:
        t, both = SEED_TEST, SEED_TEST_BOTH
        shares = {"acl_only": t["acl"] - both, "meniscus_only": t["meniscus"] - both,
                  "both": both, "other": t["abnormal"] - t["acl"] - t["meniscus"] + both,
                  "normal": t["n"] - t["abnormal"]}  # fmt: skip
        shares = {k: v / t["n"] for k, v in shares.items()}
    else:
        r = RATES
        shares = {"acl_only": r["acl"] - r["both"], "meniscus_only": r["meniscus"] - r["both"],
                  "both": r["both"], "other": r["abnormal"] - r["acl"] - r["meniscus"] + r["both"],
                  "normal": 1 - r["abnormal"]}  # fmt: skip
    return _largest_remainder(shares, n)


def _tear(rng: np.random.Generator) -> MeniscalTear:
    if rng.random() < 0.6:
        side, horn = "medial", "posterior"
    else:
        side = str(rng.choice(["medial", "lateral"], p=[0.3, 0.7]))
        horn = str(rng.choice(["posterior", "body", "anterior"], p=[0.5, 0.35, 0.15]))
    return MeniscalTear(side, horn, int(rng.choice([-1, 1], p=[0.3, 0.7])),
                        float(rng.uniform(0.0, 0.5)), float(rng.uniform(8.0, 18.0)))  # fmt: skip


def findings_for(group: str, age: float, rng: np.random.Generator) -> Findings:
    """Findings of an exam of ``group`` (see the module docstring)."""
    acl = group in ("acl_only", "both")
    tears = (_tear(rng),) if group in ("meniscus_only", "both") else ()
    degeneration_rate = (0.15 if group == "normal" else 0.35) * (0.6 + age / 60)
    degeneration = tuple(s for s in ("medial", "lateral") if rng.random() < degeneration_rate / 2)
    effusion = float(rng.uniform(*BASELINE_FLUID))
    bruises: list[tuple[float, float, float, float]] = []
    defect, cyst = False, 0.0
    if acl:
        effusion = float(rng.uniform(*PATHOLOGICAL_EFFUSION)) if rng.random() < 0.7 else effusion
        if rng.random() < 0.6:
            bruises += [(-8.0, -4.0, 21.0, float(rng.uniform(6, 11))),
                        (10.0, 16.0, 22.0, float(rng.uniform(5, 9)))]  # fmt: skip
    if tears and rng.random() < 0.4:
        effusion = max(effusion, float(rng.uniform(0.25, 0.7)))
    if group == "other":
        kinds = rng.permutation(["effusion", "oedema", "defect", "cyst"])[: rng.integers(1, 3)]
        if "effusion" in kinds:
            effusion = float(rng.uniform(0.3, 0.8))
        if "oedema" in kinds:
            bruises.append((float(rng.uniform(-25, 12)), float(rng.uniform(-10, 15)),
                            float(rng.choice([-21.0, 21.0])), float(rng.uniform(3.5, 8))))  # fmt: skip
        defect = "defect" in kinds
        cyst = float(rng.uniform(5, 10)) if "cyst" in kinds else 0.0
    elif group == "normal" and rng.random() < PHYSIOLOGICAL_SHARE:
        effusion = float(rng.uniform(*PHYSIOLOGICAL_EFFUSION))
    return Findings(acl, tears, degeneration, effusion, tuple(bruises), defect, cyst)


def plan_exams(n: int, test: bool, rng: np.random.Generator) -> list[ExamPlan]:
    """``n`` exams in a random order with the label mix of `label_groups`."""
    groups = [g for g, count in label_groups(n, test).items() for _ in range(count)]
    plans = []
    for group in rng.permutation(groups):
        age = float(np.clip(rng.normal(38, 14), 14, 85))
        shape = Shape(
            scale=float(rng.normal(1.0, 0.06)),
            notch_mm=float(rng.uniform(6.5, 9.5)),
            meniscus_mm=float(rng.uniform(5.0, 7.0)),
            limb_mm=float(rng.uniform(55, 68)),
            fat_mm=float(rng.uniform(4, 14)),
        )
        plans.append(
            ExamPlan(
                abnormal=int(group != "normal"),
                acl=int(group in ("acl_only", "both")),
                meniscus=int(group in ("meniscus_only", "both")),
                findings=findings_for(str(group), age, rng),
                shape=shape,
                left=bool(rng.random() < 0.5),
                age=age,
            )
        )
    return plans
