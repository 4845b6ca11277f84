"""Anatomy and cohort model of the lumbar phantom (seed 002, Xu 2024): axial T2 slices at
the L2/L3, L3/L4 and L4/L5 discs of patients with lumbar disc herniation.

Body frame in mm: origin at the midline on the posterior border of the disc, ``x`` towards
the patient's left (image right, radiological convention), ``y`` posterior (down in the
image). Sizes come from the seed: muscle areas are drawn as rCSA (muscle tCSA / disc tCSA)
from its Table 4 (psoas grows from L2/3 to L4/5, iliocostalis and longissimus shrink,
multifidus grows) and intramuscular fat as FI (fat area / muscle area) from its Table 5
(multifidus highest, quadratus lumborum lowest), with the effects the literature reports:
FI rises with age and is higher in women, the symptomatic side's multifidus is smaller and
fattier, men have the larger psoas. Cohort: age 49 ± 15 (18–89), 216 men / 201 women,
BMI 24.2 ± 3.6 kg/m² (seed Table 1); BMI sets the subcutaneous fat.

This module is pure numpy: it plans subjects (`plan_subject`) and lays out the anatomy of
one slice (`slice_anatomy`); `tasks.lumbar.phantom` renders it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mskbench.tasks.phantoms.shapes import Blob

LEVELS = ("L2/L3", "L3/L4", "L4/L5")
MUSCLES = ("PM", "QL", "IL", "LO", "MF")
SIDES = ("L", "R")

#: Seed Table 4, internal standard rCSA (mean, SD) at L2/L3, L3/L4, L4/L5.
RCSA_TABLE4 = {
    "PM": ((0.80, 0.17), (0.88, 0.17), (0.95, 0.18)),
    "QL": ((0.27, 0.09), (0.29, 0.09), (0.32, 0.10)),
    "IL": ((0.75, 0.16), (0.70, 0.16), (0.55, 0.14)),
    "LO": ((0.48, 0.10), (0.39, 0.09), (0.34, 0.10)),
    "MF": ((0.23, 0.07), (0.32, 0.08), (0.52, 0.08)),
}
#: Seed Table 5, standard FI (mean, SD): internal and external test sets.
FI_TABLE5 = {
    "A": {"PM": (0.19, 0.05), "QL": (0.16, 0.04), "IL": (0.25, 0.05), "LO": (0.24, 0.05),
          "MF": (0.30, 0.06)},
    "B": {"PM": (0.18, 0.05), "QL": (0.15, 0.04), "IL": (0.23, 0.05), "LO": (0.23, 0.06),
          "MF": (0.28, 0.04)},
}  # fmt: skip
#: Drawn blob area per unit of target area: the competition for pixels, the fat septa
#: between muscles and the bone drawn over them take this much back (calibrated on the
#: quick profile's 120 site-A slices, seed 0, so that the rendered rCSA means match Table 4
#: within 0.02: `benchmarks/lumbar_phantom.py`).
AREA_GAIN = {"PM": 1.16, "QL": 1.16, "IL": 1.15, "LO": 1.10, "MF": 1.11}
#: Upper bound of the longissimus/iliocostalis septum as a share of the septum between other
#: muscles, by level: a faint plane at L2/L3 that fades as the two erector spinae parts
#: merge into the common aponeurosis (their boundary is the seed's hardest: LO recall 78 %).
LO_IL_SEPTUM = (0.6, 0.3, 0.0)
#: Disc width and depth (mm) by level, for a subject of scale 1.
DISC_MM = ((46.0, 33.0), (48.0, 34.0), (50.0, 35.0))


@dataclass(frozen=True)
class SidePlan:
    """One side of one level: target rCSA and FI per muscle and the muscle water T2 (ms)."""

    rcsa: dict[str, float]
    fi: dict[str, float]
    t2_water: dict[str, float]


@dataclass(frozen=True)
class SubjectPlan:
    subject_id: str
    site: str
    sex: str
    age: int
    bmi: float
    symptom_side: str
    scale: float
    fat_mm: float
    septum_mm: float  # fat septum between two muscles (mm)
    #: width of the longissimus/iliocostalis septum as a share of ``septum_mm`` per level
    #: (`LO_IL_SEPTUM`): the two erector spinae parts merge caudally
    lo_il_septum: tuple[float, float, float]
    degeneration: tuple[float, float, float]  # disc nucleus T2 loss at each level, 0-1
    sides: dict[tuple[int, str], SidePlan]  # (level index, side) → plan
    shape_seed: int


def _clip(value: float, low: float, high: float) -> float:
    return float(min(max(value, low), high))


def plan_subject(rng: np.random.Generator, subject_id: str, site: str) -> SubjectPlan:
    """Draw one subject: demographics, body size, and per level and side the muscle sizes
    (rCSA), fat infiltration (FI) and water T2."""
    sex = "M" if rng.random() < 216 / 417 else "F"
    age = int(np.clip(round(rng.normal(49, 15)), 18, 89))
    bmi = float(np.clip(rng.normal(24.2, 3.6), 16.5, 38.0))
    symptom_side = str(rng.choice(SIDES))
    age_z = (age - 49) / 15
    muscle_z = {m: rng.normal() for m in MUSCLES}
    fat_z = {m: rng.normal() for m in MUSCLES}
    sides: dict[tuple[int, str], SidePlan] = {}
    for level in range(len(LEVELS)):
        level_z = {m: rng.normal() for m in MUSCLES}
        for side in SIDES:
            symptomatic = side == symptom_side
            rcsa, fi, t2 = {}, {}, {}
            for m in MUSCLES:
                mean, sd = RCSA_TABLE4[m][level]
                z = 0.75 * muscle_z[m] + 0.5 * level_z[m] + 0.25 * rng.normal()
                z += (0.4 if sex == "M" else -0.4) * (m == "PM") - 0.25 * age_z * (
                    m in ("PM", "MF")
                )
                atrophy = 0.92 if symptomatic and m == "MF" else 1.0
                rcsa[m] = _clip((mean + sd * z) * atrophy, 0.4 * mean, 2.2 * mean)
                f_mean, f_sd = FI_TABLE5[site][m]
                zf = 0.55 * fat_z[m] + 0.45 * age_z + 0.35 * rng.normal()
                zf += 0.25 * (sex == "F")
                bump = {"MF": 0.025, "LO": 0.01}.get(m, 0.0) if symptomatic else 0.0
                fi[m] = _clip(f_mean + f_sd * zf + bump, 0.05, 0.55)
                edema = rng.uniform(2.0, 9.0) if symptomatic and m == "MF" and level >= 1 else 0.0
                t2[m] = float(45.0 + rng.normal(0, 1.5) + edema)
            sides[(level, side)] = SidePlan(rcsa, fi, t2)
    scale = float(rng.normal(1.04 if sex == "M" else 0.96, 0.05))
    fat_mm = float(np.clip(6.0 + 2.2 * (bmi - 20.0) + (4.0 if sex == "F" else 0.0), 4.0, 45.0))
    degeneration = tuple(
        _clip(0.01 * (age - 25) + 0.15 * level + rng.normal(0, 0.15), 0.0, 0.85)
        for level in range(len(LEVELS))
    )
    return SubjectPlan(
        subject_id=subject_id,
        site=site,
        sex=sex,
        age=age,
        bmi=bmi,
        symptom_side=symptom_side,
        scale=scale,
        fat_mm=fat_mm * float(rng.uniform(0.85, 1.15)),
        septum_mm=float(rng.uniform(0.7, 1.4)),
        degeneration=degeneration,  # type: ignore[arg-type]
        sides=sides,
        shape_seed=int(rng.integers(2**31)),
        lo_il_septum=tuple(float(rng.uniform(0.0, top)) for top in LO_IL_SEPTUM),  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class SliceAnatomy:
    """Every shape of one slice, in the body frame (left side; the right is mirrored)."""

    disc: Blob
    notch: Blob  # posterior concavity of the (kidney-shaped) disc
    nucleus: Blob
    sac: Blob  # thecal sac (CSF)
    epidural: Blob
    arch: tuple[Blob, Blob]  # outer and inner ellipse of the lamina ring
    facet: Blob
    spinous: Blob
    transverse: Blob
    muscles: dict[str, Blob]
    abdominal_wall: Blob
    kidney: Blob | None
    cavity: Blob
    body: Blob
    vessels: tuple[tuple[Blob, float], ...]  # shape, proton density (flow void ≈ 0)


def _axes(area: float, aspect: float) -> tuple[float, float]:
    """Semi-axes (a, b) of an ellipse of ``area`` mm² with a / b = ``aspect``."""
    b = np.sqrt(area / (np.pi * aspect))
    return float(aspect * b), float(b)


def slice_anatomy(subject: SubjectPlan, level: int, rng: np.random.Generator) -> SliceAnatomy:
    """Lay out one slice of ``subject`` at disc ``level`` (0 = L2/L3 … 2 = L4/L5).

    Every muscle is an ellipse of its target area (rCSA × disc area × `AREA_GAIN`) placed
    against its neighbours: psoas against the side of the disc, quadratus lumborum behind
    and lateral to it, multifidus against the lamina and spinous process, longissimus
    lateral to it and iliocostalis most lateral. The left side is returned; the right side
    comes from mirroring with its own sizes (`tasks.lumbar.phantom`).
    """
    s = subject.scale
    width, depth = (v * s for v in DISC_MM[level])
    a_d, b_d = width / 2, depth / 2
    disc = Blob(0.0, -b_d + 1.0, a_d, b_d, 0.0, (0.03,), (0.0,))
    notch = Blob(0.0, 2.5, 0.36 * a_d, 4.5)
    disc_area = np.pi * a_d * b_d - 0.5 * np.pi * notch.ax * notch.ay * 0.8
    nucleus = Blob(0.0, disc.cy + 1.0, 0.55 * a_d, 0.5 * b_d)
    sac = Blob(0.0, 8.5, (9.0 + level) * s, 6.5 * s, 0.0, (0.0, 0.08), (0.0, np.pi / 2))
    epidural = Blob(0.0, 9.0, 12.0 * s, 9.0 * s)
    arch = (Blob(0.0, 8.0, 17.0 * s, 13.0 * s), Blob(0.0, 8.0, 12.0 * s, 9.5 * s))
    facet = Blob(14.5 * s, 6.0, 5.5 * s, 7.0 * s, np.deg2rad(30))
    spin_len = (32.0, 30.0, 26.0)[level] * s
    spinous = Blob(0.0, 18.0 + spin_len / 2, 3.2 * s, spin_len / 2)
    tp_len = (15.0, 13.0, 10.0)[level] * s
    transverse = Blob(17.0 * s + tp_len, 3.0, tp_len, 2.8 * s, np.deg2rad(-8))

    def area(m: str, side: str = "L") -> float:
        return subject.sides[(level, side)].rcsa[m] * disc_area * AREA_GAIN[m]

    def harmonics() -> tuple[tuple[float, ...], tuple[float, ...]]:
        return tuple(rng.normal(0, 0.045, 3)), tuple(rng.uniform(0, 2 * np.pi, 3))

    muscles: dict[str, Blob] = {}
    ax, ay = _axes(area("PM"), (1.05, 1.2, 1.3)[level])
    py = (-9.0, -12.0, -15.0)[level]
    muscles["PM"] = Blob(a_d + 0.8 * ax - 1.0, py, ax, ay, np.deg2rad(15), *harmonics())
    pm = muscles["PM"]
    qx, qy = _axes(area("QL"), 3.0)
    muscles["QL"] = Blob(
        pm.cx + 0.75 * pm.ax + 0.75 * qx, 9.0 - 0.2 * pm.ay, qx, qy, np.deg2rad(-28), *harmonics()
    )
    mx, my = _axes(area("MF"), 0.62)
    muscles["MF"] = Blob(3.4 * s + mx, 15.0 + 0.95 * my, mx, my, np.deg2rad(-10), *harmonics())
    mf = muscles["MF"]
    lx, ly = _axes(area("LO"), 0.85)
    muscles["LO"] = Blob(mf.cx + mf.ax + 0.85 * lx, 17.0 + ly, lx, ly, np.deg2rad(5), *harmonics())
    lo = muscles["LO"]
    ix, iy = _axes(area("IL"), 1.35)
    muscles["IL"] = Blob(
        lo.cx + lo.ax + 0.55 * ix, 14.0 + 0.8 * iy, ix, iy, np.deg2rad(22), *harmonics()
    )
    il = muscles["IL"]
    wall = Blob(il.cx + il.ax + 18.0, -22.0, 6.5, 42.0, np.deg2rad(12))
    kidney_scale = (1.0, 0.55, 0.0)[level]
    kidney = (
        Blob(pm.cx + 24.0, pm.cy - 22.0, 15.0 * kidney_scale, 24.0 * kidney_scale, np.deg2rad(-30))
        if kidney_scale
        else None
    )
    cavity = Blob(0.0, -98.0 * s, 112.0 * s, 60.0 * s)
    back = max(lo.cy + lo.ay, mf.cy + mf.ay, spinous.cy + spinous.ay) + 3.0
    body_ay = 115.0 * s
    body = Blob(0.0, back + subject.fat_mm - body_ay, 150.0 * s, body_ay)
    if level < 2:
        vessels = ((Blob(10.0, disc.cy - b_d - 10.0, 9.5, 9.5), 0.05),
                   (Blob(-16.0, disc.cy - b_d - 8.0, 11.0, 7.5), 0.35))  # fmt: skip
    else:
        vessels = ((Blob(14.0, disc.cy - b_d - 8.0, 5.5, 5.5), 0.05),
                   (Blob(-14.0, disc.cy - b_d - 8.0, 5.5, 5.5), 0.05),
                   (Blob(-4.0, disc.cy - b_d - 4.0, 8.0, 6.0), 0.35))  # fmt: skip
    return SliceAnatomy(
        disc, notch, nucleus, sac, epidural, arch, facet, spinous, transverse, muscles,
        wall, kidney, cavity, body, vessels,
    )  # fmt: skip


def right_muscles(
    subject: SubjectPlan, level: int, anatomy: SliceAnatomy, rng: np.random.Generator
) -> dict[str, Blob]:
    """The right side's muscles: the left layout mirrored, each resized to the right side's
    own target area (left/right asymmetry) with its own boundary harmonics."""
    out = {}
    for m, left in anatomy.muscles.items():
        ratio = subject.sides[(level, "R")].rcsa[m] / subject.sides[(level, "L")].rcsa[m]
        k = float(np.sqrt(ratio))
        mirrored = left.mirrored()
        shift = (k - 1.0) * left.ax * 0.6  # grow outwards, away from the midline
        out[m] = Blob(
            mirrored.cx - shift, mirrored.cy, left.ax * k, left.ay * k, mirrored.angle,
            tuple(rng.normal(0, 0.045, 3)), tuple(rng.uniform(0, 2 * np.pi, 3)),
        )  # fmt: skip
    return out
