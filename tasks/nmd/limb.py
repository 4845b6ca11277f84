"""Anatomy templates of the thigh and leg, and the disease model of muscle fat infiltration.

Template coordinates are in units of the muscle-compartment radius ``R`` (the deep
fascia), in a body frame with ``x`` pointing medially and ``y`` posteriorly (a right
limb seen from below; left limbs are mirrored). Each structure has keyframes at the
proximal end, middle and distal end of the 200 mm section (``t`` = 0, 0.5, 1):
``(cx, cy, ax, ay, angle_deg)``; in between they are interpolated by a quadratic, so
muscles grow, shrink and move smoothly from slice to slice (sartorius crosses from
anterior to medial, adductors shrink distally, vastus medialis and semimembranosus grow,
the gastrocnemii thin out distally).

Fat fractions are in % (0-100). The per-muscle fat fraction of a subject is
``baseline + severity · susceptibility · section factor · noise``, with disease-specific
severity (controls 0; CMT1A worst and length-dependent — more in the leg and distally;
FAP half presymptomatic; CIDP mild). Over a cohort with the seed's mix (14 controls,
18 CMT, 29 FAP, 20 CIDP) this gives muscle FF ≈ 9 ± 8 %, range ≈ 2-65 %, 10-20 % of
muscles ≥ 20 % — the seed's Fig. 2 (8.76 ± 7.68 %, [1.87, 64.34]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

Keyframes = tuple[tuple[float, float, float, float, float], ...]


@dataclass(frozen=True)
class LimbTemplate:
    """Template of one limb section."""

    section: str
    muscles: dict[str, Keyframes]
    susceptibility: dict[str, float]
    bones: dict[
        str, tuple[tuple[float, float], float, float, float]
    ]  # centre, outer r, inner r, 3-fold amp
    vessels: tuple[tuple[Keyframes, float], ...]  # keyframes of the centre, radius (units of R)
    compartment_aspect: float
    radius_mm: dict[str, tuple[float, float]]  # sex → (mean, sd) of R
    fat_mm: dict[str, tuple[float, float]]  # sex → (mean, sd) of subcutaneous fat
    taper: float  # fractional loss of R from proximal to distal


THIGH = LimbTemplate(
    section="thigh",
    muscles={
        "Ad": (
            (0.38, 0.12, 0.42, 0.40, 30),
            (0.40, 0.18, 0.34, 0.32, 30),
            (0.42, 0.16, 0.20, 0.20, 30),
        ),
        "BF": (
            (-0.30, 0.66, 0.24, 0.20, -20),
            (-0.36, 0.58, 0.28, 0.24, -25),
            (-0.44, 0.48, 0.30, 0.26, -30),
        ),
        "Gr": (
            (0.86, 0.14, 0.07, 0.18, 10),
            (0.84, 0.26, 0.07, 0.16, 20),
            (0.80, 0.36, 0.08, 0.14, 30),
        ),
        "RF": (
            (0.04, -0.72, 0.22, 0.16, 0),
            (0.00, -0.74, 0.22, 0.14, 0),
            (0.00, -0.78, 0.14, 0.08, 0),
        ),
        "Sa": (
            (0.42, -0.74, 0.20, 0.07, 35),
            (0.70, -0.44, 0.20, 0.08, 55),
            (0.80, -0.06, 0.18, 0.09, 80),
        ),
        "SM": (
            (0.20, 0.72, 0.13, 0.09, 0),
            (0.24, 0.64, 0.20, 0.16, 10),
            (0.26, 0.56, 0.26, 0.22, 10),
        ),
        "ST": (
            (0.16, 0.86, 0.20, 0.12, 0),
            (0.42, 0.78, 0.17, 0.12, 20),
            (0.55, 0.70, 0.12, 0.09, 30),
        ),
        "VI": (
            (-0.12, -0.30, 0.34, 0.26, 0),
            (-0.08, -0.30, 0.34, 0.26, 0),
            (-0.04, -0.28, 0.30, 0.24, 0),
        ),
        "VL": (
            (-0.62, -0.18, 0.30, 0.44, 15),
            (-0.62, -0.22, 0.28, 0.42, 20),
            (-0.58, -0.28, 0.22, 0.36, 25),
        ),
        "VM": (
            (0.34, -0.44, 0.14, 0.12, 30),
            (0.40, -0.40, 0.22, 0.20, 30),
            (0.42, -0.34, 0.32, 0.28, 30),
        ),
    },
    susceptibility={
        "Ad": 1.0,
        "BF": 1.1,
        "Gr": 1.0,
        "RF": 0.7,
        "Sa": 1.0,
        "SM": 1.2,
        "ST": 1.1,
        "VI": 0.8,
        "VL": 0.9,
        "VM": 1.0,
    },
    bones={"femur": ((-0.08, -0.07), 0.21, 0.12, 0.0)},
    vessels=(
        (((0.45, -0.36, 0, 0, 0), (0.58, -0.14, 0, 0, 0), (0.58, 0.12, 0, 0, 0)), 0.045),
        (((0.50, -0.30, 0, 0, 0), (0.62, -0.08, 0, 0, 0), (0.62, 0.18, 0, 0, 0)), 0.055),
        (((0.05, 0.05, 0, 0, 0), (0.10, 0.08, 0, 0, 0), (0.12, 0.10, 0, 0, 0)), 0.035),
    ),
    compartment_aspect=0.92,
    radius_mm={"M": (63.0, 6.0), "F": (57.0, 6.0)},
    fat_mm={"M": (10.0, 4.0), "F": (18.0, 6.0)},
    taper=0.10,
)

LEG = LimbTemplate(
    section="leg",
    muscles={
        "AC": (
            (-0.20, -0.58, 0.28, 0.28, 20),
            (-0.18, -0.58, 0.27, 0.27, 20),
            (-0.14, -0.60, 0.22, 0.23, 20),
        ),
        "DPC": (
            (0.02, -0.14, 0.34, 0.19, 10),
            (0.04, -0.12, 0.36, 0.21, 10),
            (0.08, -0.12, 0.38, 0.25, 10),
        ),
        "GL": (
            (-0.36, 0.66, 0.30, 0.22, 20),
            (-0.32, 0.72, 0.26, 0.17, 15),
            (-0.24, 0.82, 0.16, 0.08, 10),
        ),
        "GM": (
            (0.34, 0.64, 0.40, 0.28, -20),
            (0.32, 0.70, 0.36, 0.22, -15),
            (0.26, 0.80, 0.24, 0.10, -10),
        ),
        "LC": (
            (-0.76, -0.22, 0.19, 0.32, 10),
            (-0.74, -0.20, 0.18, 0.31, 10),
            (-0.70, -0.20, 0.16, 0.27, 10),
        ),
        "So": (
            (0.00, 0.28, 0.66, 0.24, 0),
            (0.00, 0.30, 0.68, 0.30, 0),
            (0.02, 0.32, 0.62, 0.34, 0),
        ),
    },
    susceptibility={"AC": 1.2, "DPC": 0.8, "GL": 1.1, "GM": 1.3, "LC": 1.2, "So": 1.3},
    bones={
        "tibia": ((0.28, -0.52), 0.24, 0.12, 0.12),
        "fibula": ((-0.52, -0.02), 0.10, 0.045, 0.0),
    },
    vessels=(
        (((0.20, 0.08, 0, 0, 0), (0.20, 0.10, 0, 0, 0), (0.22, 0.12, 0, 0, 0)), 0.04),
        (((-0.16, -0.30, 0, 0, 0), (-0.14, -0.32, 0, 0, 0), (-0.10, -0.34, 0, 0, 0)), 0.03),
    ),
    compartment_aspect=0.86,
    radius_mm={"M": (46.0, 4.5), "F": (42.0, 4.5)},
    fat_mm={"M": (6.0, 2.5), "F": (10.0, 3.5)},
    taper=0.18,
)

TEMPLATES = {"thigh": THIGH, "leg": LEG}


def interpolate(keyframes: Keyframes, t: float) -> tuple[float, ...]:
    """Quadratic (Lagrange) interpolation of keyframes at t = 0, 0.5, 1."""
    k = np.asarray(keyframes, dtype=float)
    weights = np.array([2 * (t - 0.5) * (t - 1), -4 * t * (t - 1), 2 * t * (t - 0.5)])
    return tuple(weights @ k)


# -- disease model ------------------------------------------------------------------------
#: The seed's cohort: 14 controls, 18 CMT1A, 29 FAP, 20 CIDP (81 subjects).
COHORT = {"control": 14, "CMT": 18, "FAP": 29, "CIDP": 20}
#: Relative involvement of each section, by disease (CMT1A is length-dependent).
SECTION_FACTOR = {
    "CMT": {"thigh": 1.45, "leg": 1.5},
    "FAP": {"thigh": 0.9, "leg": 1.1},
    "CIDP": {"thigh": 0.8, "leg": 0.9},
    "control": {"thigh": 0.0, "leg": 0.0},
}
#: Proximal-to-distal FF gradient within the section (fractional change over the section).
DISTAL_GRADIENT = {"CMT": 0.6, "FAP": 0.4, "CIDP": 0.1, "control": 0.0}


def assign_groups(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` disease groups in the seed's proportions (largest remainder), shuffled."""
    total = sum(COHORT.values())
    exact = {g: n * c / total for g, c in COHORT.items()}
    counts = {g: int(v) for g, v in exact.items()}
    for g in sorted(exact, key=lambda g: exact[g] - counts[g], reverse=True)[
        : n - sum(counts.values())
    ]:
        counts[g] += 1
    groups = [g for g, c in counts.items() for _ in range(c)]
    rng.shuffle(groups)
    return groups


#: Severity distribution per group: (share, gamma shape, gamma scale) of each component.
SEVERITY = {
    "control": ((1.0, 0.0, 0.0),),
    "CMT": ((1.0, 2.0, 0.5),),
    "FAP": ((0.45, 1.0, 0.05), (0.55, 1.6, 0.5)),  # presymptomatic carriers, symptomatic
    "CIDP": ((1.0, 1.5, 0.3),),
}


def cohort_severities(rng: np.random.Generator, groups: list[str]) -> list[float]:
    """Severity of each subject (0 = healthy; ≈ 1 = typical symptomatic CMT1A).

    Drawn at stratified quantiles of each group's gamma distribution (one random point
    per equal-probability stratum), so even a small cohort spans the whole range and
    dataset-level FF statistics hardly depend on the seed.
    """
    out = np.zeros(len(groups))
    for group, components in SEVERITY.items():
        members = [i for i, g in enumerate(groups) if g == group]
        if not members:
            continue
        values = []
        counts = np.round(np.cumsum([c[0] for c in components]) * len(members)).astype(int)
        for (_, shape, scale), lo, hi in zip(components, [0, *counts[:-1]], counts, strict=True):
            n = hi - lo
            if n == 0:
                continue
            quantiles = (np.arange(n) + rng.random(n)) / n
            values += list(
                stats.gamma.ppf(quantiles, shape, scale=scale) if shape > 0 else np.zeros(n)
            )
        rng.shuffle(values)
        out[members] = values
    return out.tolist()


def muscle_fat_fractions(
    rng: np.random.Generator, template: LimbTemplate, group: str, severity: float
) -> dict[str, float]:
    """Volume-mean fat fraction (%) of each muscle of one subject."""
    factor = SECTION_FACTOR[group][template.section]
    out = {}
    for name, susceptibility in template.susceptibility.items():
        baseline = 0.5 + rng.lognormal(np.log(1.1), 0.35)
        extra = 12.0 * severity * susceptibility * factor * rng.lognormal(0.0, 0.45)
        # soft saturation: end-stage muscles approach but do not reach 70 % above baseline
        out[name] = float(baseline + 70.0 * (1.0 - np.exp(-extra / 70.0)))
    return out
