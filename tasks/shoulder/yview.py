"""Cohort and anatomy of the shoulder phantom (seed 000, Saavedra 2024): one sagittal-oblique
T2-weighted "Y-view" slice per shoulder with a Goutallier grade of the supraspinatus.

**Grades.** The reference grade is a rater's reading of the supraspinatus's visible fat
share — the fraction of its belly that is fat tissue, which is what Goutallier's
definitions speak of (0 no fat, 1 some fatty streaks, 2 less fat than muscle, 3 as much, 4
more) — through the cuts `GRADE_CUTS`, after a perception error that is Gaussian on the
logit of the share (`RATER_SD_LOGIT`): graders disagree near a boundary and agree far from
it, so the grade is not a function of the image. A case of reference grade ``g`` draws its
true share from the shares that this rater would call ``g`` (`draw_fat_share`), which gives
exactly the planned number of cases per grade. Atrophy follows the fat share: the muscle
keeps ``≈ 0.97 − 0.75 × share`` of the area a healthy muscle fills in its fossa (about half
in grade 4; Thomazeau's occupation ratio, measured against the bony fossa, falls from 0.70
in controls to 0.44 after tears).

**Cohort** (seed text): age 55.1 ± 13.2 years, 55 % men (333 of 606), women somewhat more
frequent in the higher grades (`sexes`); age rises ≈ 4 years per grade (fatty infiltration
grows with age), the within-grade SD keeps the overall SD at 13.2 over the seed's grades.

**Anatomy** in a body frame in mm: origin at the junction of the scapular Y (the scapular
neck), ``u`` posterior (image right), ``v`` inferior (image down). The Y: the body of the
scapula runs down, the spine up and back, the coracoid up and forward (hooked tip); the
supraspinous fossa is the wedge between spine and coracoid, closed above by the trapezius
with the clavicle in front. Infraspinatus and teres minor lie behind the body below the
spine, subscapularis in front of it below the coracoid, the posterior deltoid behind the
infraspinatus, pectoralis minor and major in front with the axillary vessels and plexus
between. Every size scales with the subject, every angle and position varies.

**Fat inside a muscle** (`infiltration`): streaks along septa that leave the central
tendon and widen towards the edge, and replacement from the edge inward along an irregular
front, at an exact share; `through_slice` smears them as a 3-4 mm slice does.

numpy/scipy only: `plan_subject` draws a subject, `y_anatomy` lays out its slice;
`tasks.shoulder.phantom` renders it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mskbench.tasks.phantoms.shapes import Blob
from mskbench.tasks.shoulder.spec import SEED_GRADE_COUNTS

N_GRADES = 5
#: Visible fat share of the supraspinatus belly (0-1) at the boundaries between grades 0|1,
#: 1|2, 2|3 and 3|4: first streaks, streaks become a sizeable share, about as much fat as
#: muscle, clearly more fat than muscle.
GRADE_CUTS = (0.05, 0.15, 0.35, 0.55)
#: SD of the rater's perception error on the logit of the fat share.
RATER_SD_LOGIT = 0.35
SHARE_RANGE = (0.005, 0.85)
AGE_MEAN, AGE_SD = 55.1, 13.2
AGE_PER_GRADE = 4.0
_SEED_GRADES = np.repeat(np.arange(N_GRADES), SEED_GRADE_COUNTS)
#: Age SD within a grade: the seed's overall SD less the spread of the grade means.
AGE_SD_WITHIN = float(np.sqrt(AGE_SD**2 - AGE_PER_GRADE**2 * _SEED_GRADES.var()))
#: Share of women per grade: rising with grade, the seed's Table 1 trend; over the seed's
#: grade counts it leaves 333 men of 606, the seed's number (`sexes`).
FEMALE_BY_GRADE = (0.432, 0.46, 0.50, 0.55, 0.60)
#: Prevalence by grade 0-4 of the confounders (`SubjectPlan`): a cuff tear with fluid
#: along the retracted tendon, subacromial bursal fluid, an intramuscular cyst, oedema.
TEAR = (0.10, 0.22, 0.34, 0.46, 0.58)
BURSA = (0.30, 0.37, 0.44, 0.51, 0.58)
CYST = (0.03, 0.07, 0.11, 0.15, 0.19)
OEDEMA = (0.15, 0.15, 0.15, 0.15, 0.15)
SOFT_MM = 0.3  # width of the fat/muscle transition inside a muscle
#: Muscles are drawn this much larger than their own size (`y_anatomy`).
INFLATE = 1.25


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, 0-1."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _logit(p: float | np.ndarray) -> float | np.ndarray:
    return np.log(p / (1.0 - p))


def rater_grade(share: float, error_logit: float) -> int:
    """The grade a rater gives a muscle of visible fat ``share`` (0-1), misperceived by
    ``error_logit`` on the logit scale."""
    perceived = 1.0 / (1.0 + np.exp(-(_logit(share) + error_logit)))
    return int(np.searchsorted(GRADE_CUTS, perceived, side="right"))


def draw_fat_share(rng: np.random.Generator, grade: int) -> float:
    """A true fat share (0-1) that the rater calls ``grade``: uniform on the logit scale over
    the grade's band widened by 2.5 rater SDs, kept when a rater's reading gives ``grade``."""
    edges = _logit(np.array([SHARE_RANGE[0], *GRADE_CUTS, SHARE_RANGE[1]]))
    margin = 2.5 * RATER_SD_LOGIT
    low = max(edges[grade] - margin, edges[0])
    high = min(edges[grade + 1] + margin, edges[-1])
    while True:
        share = float(1.0 / (1.0 + np.exp(-rng.uniform(low, high))))
        if rater_grade(share, float(rng.normal(0.0, RATER_SD_LOGIT))) == grade:
            return share


def allocate(counts: tuple[int, ...], n: int) -> tuple[int, ...]:
    """``n`` cases split in the proportions of ``counts`` by largest remainder (ties: the
    higher grade), so a small external set still holds the rare grades."""
    total = sum(counts)
    if total == 0:
        if n:
            raise ValueError(f"cannot split {n} cases in the proportions of {list(counts)}")
        return tuple(0 for _ in counts)
    exact = np.array(counts, float) * n / total
    out = np.floor(exact).astype(int)
    order = sorted(range(len(counts)), key=lambda g: (-(exact[g] - out[g]), -g))
    for g in order[: n - int(out.sum())]:
        out[g] += 1
    return tuple(int(c) for c in out)


@dataclass(frozen=True)
class SubjectPlan:
    """One shoulder: demographics, the supraspinatus's state and the confounders present."""

    subject_id: str
    site: str
    grade: int  # reference (rater) Goutallier grade
    sex: str
    age: int
    fat_share: float  # true visible fat share of the supraspinatus belly, 0-1
    occupation: float  # muscle area / fossa area (Thomazeau), 0-1
    baseline_ff: float  # fat fraction of non-infiltrated muscle, 0-1
    edge_weight: float  # share of the infiltration that replaces muscle from the edge, 0-1
    infraspinatus_share: float  # the infraspinatus's own fat share (posterosuperior tears)
    tear: bool
    bursa: bool
    cyst: bool
    oedema: float  # share of the supraspinatus with oedema (0: none)
    scale: float  # body size
    fat_mm: float  # subcutaneous fat thickness
    septum_mm: float  # fat plane between two muscles
    shape_seed: int


def sexes(rng: np.random.Generator, grades: np.ndarray) -> list[str]:
    """The sex of each shoulder of ``grades``: ``round(n × FEMALE_BY_GRADE[g])`` women
    among the ``n`` shoulders of grade ``g``, placed at random among them."""
    out = np.full(len(grades), "M")
    for grade, share in enumerate(FEMALE_BY_GRADE):
        where = np.flatnonzero(grades == grade)
        out[rng.permutation(where)[: round(len(where) * share)]] = "F"
    return [str(x) for x in out]


def plan_subject(
    rng: np.random.Generator, subject_id: str, site: str, grade: int, sex: str
) -> SubjectPlan:
    """Draw one shoulder of reference ``grade`` (see the module docstring)."""
    mean_age = AGE_MEAN + AGE_PER_GRADE * (grade - _SEED_GRADES.mean())
    age = int(np.clip(round(rng.normal(mean_age, AGE_SD_WITHIN)), 18, 90))
    share = draw_fat_share(rng, grade)
    occupation = 0.97 - 0.75 * share - 0.002 * (age - 55) + rng.normal(0, 0.06)
    occupation = float(np.clip(occupation, 0.3, 1.0))
    baseline = float(np.clip(0.02 + 0.0004 * (age - 55) + rng.normal(0, 0.006), 0.008, 0.05))
    edge = float(np.clip((share - 0.08) / 0.6 + rng.normal(0, 0.08), 0.0, 0.75))
    involved = grade >= 2 and rng.random() < 0.5  # a posterosuperior tear
    isp = float(share * rng.uniform(0.2, 0.8)) if involved else float(rng.uniform(0.0, 0.04))
    oedema = float(rng.uniform(0.2, 1.0)) if rng.random() < OEDEMA[grade] else 0.0
    scale = float(rng.normal(1.04 if sex == "M" else 0.94, 0.05))
    return SubjectPlan(
        subject_id=subject_id,
        site=site,
        grade=grade,
        sex=sex,
        age=age,
        fat_share=share,
        occupation=occupation,
        baseline_ff=baseline,
        edge_weight=edge,
        infraspinatus_share=isp,
        tear=bool(rng.random() < TEAR[grade]),
        bursa=bool(rng.random() < BURSA[grade]),
        cyst=bool(rng.random() < CYST[grade]),
        oedema=oedema,
        scale=scale,
        fat_mm=float(np.clip(rng.normal(9.0 if sex == "M" else 12.0, 3.5), 3.0, 25.0)),
        septum_mm=float(rng.uniform(0.7, 1.4)),
        shape_seed=int(rng.integers(2**31)),
    )


@dataclass(frozen=True)
class Wedge:
    """The angular sector at ``apex`` between two rays (unit vectors, counter-clockwise
    from ``first`` to ``second`` in the image): a signed distance, < 0 inside."""

    apex: tuple[float, float]
    first: tuple[float, float]
    second: tuple[float, float]

    def depth(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        du, dv = u - self.apex[0], v - self.apex[1]
        # distance to the left of ``first`` and to the right of ``second`` as seen in the
        # image (v points down, hence the signs)
        d1 = self.first[0] * dv - self.first[1] * du
        d2 = self.second[1] * du - self.second[0] * dv
        return np.maximum(d1, d2)


@dataclass(frozen=True)
class YAnatomy:
    """Every shape of one slice in the body frame (mm)."""

    scapula: tuple[Blob, ...]  # neck, body, spine, coracoid, coracoid tip
    clavicle: Blob
    fossa: Blob  # what a healthy supraspinatus fills
    fossa_wedge: Wedge  # between spine and coracoid
    anchor: tuple[float, float]  # the fossa floor the atrophied muscle shrinks towards
    tendon: Blob  # the supraspinatus's central tendon in the healthy muscle
    septa: tuple[tuple[float, float], ...]  # (angle, curvature 1/mm) of septa from the tendon
    muscles: dict[str, tuple[Blob, Wedge | None]]  # the other muscles, with their sector
    infraspinatus_tendon: tuple[float, float]
    infraspinatus_septa: tuple[tuple[float, float], ...]
    body: Blob  # skin
    vessels: tuple[tuple[Blob, float, float], ...]  # shape, proton density, water T2 (ms)


def _unit(angle_deg: float) -> tuple[float, float]:
    """Unit vector at ``angle_deg`` counter-clockwise from posterior (+u) as seen in the
    image (v points down, so "up" is −v)."""
    a = np.deg2rad(angle_deg)
    return float(np.cos(a)), float(-np.sin(a))


def _rod(start: tuple[float, float], direction: tuple[float, float], length: float,
         half_thickness: float) -> Blob:  # fmt: skip
    """An elongated ellipse from ``start`` along ``direction`` (a bone arm)."""
    cx = start[0] + direction[0] * length / 2
    cy = start[1] + direction[1] * length / 2
    return Blob(cx, cy, length / 2, half_thickness, float(np.arctan2(direction[1], direction[0])))


def _septa(
    rng: np.random.Generator, n: int, curvature_sd: float
) -> tuple[tuple[float, float], ...]:
    """``n`` septa leaving a tendon: (angle in radians, curvature in radians per mm)."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    return tuple((float(a), float(rng.normal(0, curvature_sd))) for a in angles)


def y_anatomy(subject: SubjectPlan, rng: np.random.Generator) -> YAnatomy:
    """Lay out the Y-view slice of ``subject`` (see the module docstring). Muscles are drawn
    `INFLATE`× their own size so that they press on each other: the renderer's competition
    for pixels turns the overlaps into thin fat planes."""
    s = subject.scale
    spine = _unit(26 + rng.normal(0, 5))  # up and back
    coracoid = _unit(132 + rng.normal(0, 6))  # up and forward
    body_dir = _unit(-82 + rng.normal(0, 4))  # down, its lower end slightly posterior
    hook = _unit(170 + rng.normal(0, 6))
    spine_len, cor_len = (52 + rng.normal(0, 4)) * s, (30 + rng.normal(0, 3)) * s
    cor_end = (coracoid[0] * cor_len, coracoid[1] * cor_len)
    scapula = (
        Blob(body_dir[0] * 3 * s, body_dir[1] * 3 * s, 6.5 * s, 6.0 * s),
        _rod((0.0, 0.0), body_dir, 130 * s, (2.2 + rng.normal(0, 0.3)) * s),
        _rod((0.0, 0.0), spine, spine_len, (3.8 + rng.normal(0, 0.4)) * s),
        _rod((0.0, 0.0), coracoid, cor_len, (4.6 + rng.normal(0, 0.5)) * s),
        _rod((cor_end[0] - 3 * hook[0], cor_end[1] - 3 * hook[1]), hook, 13 * s, 3.4 * s),
    )

    size = s * (1.0 if subject.sex == "M" else 0.9) * float(rng.normal(1.0, 0.06))
    fx, fy = 25.0 * size, 15.0 * size
    fossa = Blob(
        (3 + rng.normal(0, 2.5)) * s, -(5 + rng.normal(0, 1.5)) * s - fy, fx, fy,
        float(rng.normal(0, 0.1)),
        (float(rng.normal(0, 0.03)), float(np.clip(rng.normal(0.08, 0.02), 0.03, 0.13)),
         float(rng.normal(0, 0.02))),
        (float(rng.uniform(0, 6.3)), float(3 * np.pi / 2 + rng.normal(0, 0.2)),
         float(rng.uniform(0, 6.3))),
    )  # fmt: skip
    top = fossa.cy - fy  # the fossa's upper edge
    clavicle = Blob(
        fossa.cx - fx + rng.normal(-2, 2) * s, top + rng.normal(-3, 2) * s, 7.5 * s, 5.5 * s,
        float(rng.normal(0, 0.3)), (float(rng.normal(0, 0.04)),), (float(rng.uniform(0, 6.3)),),
    )  # fmt: skip
    wedge = Wedge((0.0, 0.0), spine, coracoid)
    anchor = (fossa.cx + 0.1 * fx, fossa.cy + 0.75 * fy)
    tendon = Blob(
        fossa.cx - fx * rng.uniform(0.15, 0.4), fossa.cy + fy * rng.uniform(-0.1, 0.25),
        rng.uniform(4.0, 6.5) * s, rng.uniform(1.4, 2.2) * s,
        float(np.pi / 2 + rng.normal(0, 0.3)),
    )  # fmt: skip
    septa = _septa(rng, int(rng.integers(7, 12)), 0.015)

    def blob(cx: float, cy: float, long: float, short: float, deg: float) -> Blob:
        """A muscle centred at (cx, cy) whose long axis points at ``deg`` (as `_unit`)."""
        return Blob(
            (cx + rng.normal(0, 2)) * s, (cy + rng.normal(0, 2)) * s,
            INFLATE * long * s * rng.normal(1, 0.06), INFLATE * short * s * rng.normal(1, 0.06),
            -np.deg2rad(deg + rng.normal(0, 4)), tuple(rng.normal(0, 0.05, 3)),
            tuple(rng.uniform(0, 6.3, 3)),
        )  # fmt: skip

    posterior = Wedge((0.0, 0.0), body_dir, spine)  # behind the body, below the spine
    anterior = Wedge((0.0, 0.0), coracoid, body_dir)  # in front of the body, below the coracoid
    t = top / s
    muscles = {
        "TRAP": (blob(fossa.cx / s + 4, t - 7, 32, 8, -14), None),
        "ISP": (blob(25, 20, 26, 19, 95), posterior),
        "TM": (blob(24, 56, 12, 14, 80), posterior),
        "SUB": (blob(-19, 26, 34, 17, 95), anterior),
        "DELT": (blob(52, 8, 40, 10, 100), None),
        "DELT_A": (blob(-44, t + 8, 16, 9, 125), None),
        "PMIN": (blob(-47, 14, 22, 6.5, 70), None),
        "PMAJ": (blob(-67, 30, 42, 10, 95), None),
        "AXILLA": (blob(-36, 12, 11, 9, 80), None),  # axillary fat around the vessels
    }
    top_skin = -t * s + 14.0 * s + subject.fat_mm
    body_ax = 74.0 * s + subject.fat_mm
    body = Blob(
        -12.0 * s, 60.0, body_ax, 60.0 + top_skin, 0.0, tuple(rng.normal(0, 0.02, 3)),
        tuple(rng.uniform(0, 6.3, 3)),
    )  # fmt: skip
    axilla = muscles["AXILLA"][0]
    ax_u, ax_v = axilla.cx + rng.normal(0, 1.5) * s, axilla.cy + rng.normal(0, 1.5) * s
    vessels = (
        (Blob(ax_u + 3 * s, ax_v - 3 * s, 3.5 * s, 3.2 * s), 0.05, 40.0),  # artery: flow void
        (Blob(ax_u - 3 * s, ax_v + 4 * s, 5.0 * s, 3.8 * s, 0.5), 0.7, 180.0),  # slow venous flow
        *((Blob(ax_u + dx * s, ax_v + dy * s, 1.7 * s, 1.5 * s), 0.9, 70.0)  # plexus cords
          for dx, dy in ((7, -4), (6, 2), (1, -8))),
    )  # fmt: skip
    isp = muscles["ISP"][0]
    return YAnatomy(
        scapula=scapula,
        clavicle=clavicle,
        fossa=fossa,
        fossa_wedge=wedge,
        anchor=anchor,
        tendon=tendon,
        septa=septa,
        muscles=muscles,
        infraspinatus_tendon=(isp.cx - 0.3 * isp.ax, isp.cy - 0.2 * isp.ay),
        infraspinatus_septa=_septa(rng, 6, 0.02),
        body=body,
        vessels=vessels,
    )


# -- the fat inside a muscle -----------------------------------------------------------
def _cut(score: np.ndarray, share: float) -> np.ndarray:
    """Soft membership (0-1) of the ``share`` of pixels with the highest ``score`` (mm)."""
    if share <= 0.0:
        return np.zeros_like(score)
    q = float(np.quantile(score, 1.0 - min(share, 1.0)))
    return sigmoid((score - q) / SOFT_MM)


def infiltration(
    u: np.ndarray,
    v: np.ndarray,
    depth_in: np.ndarray,
    tendon: tuple[float, float],
    septa: tuple[tuple[float, float], ...],
    share: float,
    edge_weight: float,
    front: np.ndarray,
    bead: np.ndarray,
) -> np.ndarray:
    """Fat membership (0-1, mean ``share``) of a muscle's pixels at body-frame ``(u, v)``
    (mm) lying ``depth_in`` mm inside its edge.

    Two patterns: streaks along septa that leave the ``tendon`` at the ``septa``'s
    (angle, curvature) and widen towards the edge (``bead``: unit-SD field breaking them
    into beads), and replacement from the edge inward along an irregular ``front``
    (unit-SD field) taking ``edge_weight`` of the share.
    """
    if share <= 0.0:
        return np.zeros_like(u)
    du, dv = u - tendon[0], v - tendon[1]
    r = np.hypot(du, dv)
    theta = np.arctan2(dv, du)
    to_septum = np.full(r.shape, np.inf, np.float32)
    for angle, curvature in septa:
        delta = np.remainder(theta - angle - curvature * r + np.pi, 2 * np.pi) - np.pi
        to_septum = np.minimum(to_septum, r * np.abs(delta))
    towards_edge = r / (r + np.maximum(depth_in, 0.0) + 1e-3)  # 0 at the tendon, 1 at the edge
    streak = -to_septum + 1.5 * towards_edge + 0.5 * bead
    edge = -depth_in + 2.5 * front
    p_edge = share * edge_weight
    p_streak = (share - p_edge) / max(1.0 - p_edge, 1e-6)
    membership = 1.0 - (1.0 - _cut(edge, p_edge)) * (1.0 - _cut(streak, p_streak))
    for _ in range(3):  # soft edges blur the quantile cuts: rescale to the exact share
        membership = np.clip(membership * (share / max(float(membership.mean()), 1e-6)), 0, 1)
    return membership.astype(np.float32)


def through_slice(values: np.ndarray, region: np.ndarray, sigma_px: float) -> np.ndarray:
    """Through-slice partial volume of septa that run oblique to the slice: ``values``
    (one per pixel of ``region``) averaged over a Gaussian of ``sigma_px`` within
    ``region`` only (normalised convolution), their mean kept."""
    full = np.zeros(region.shape, np.float32)
    full[region] = values
    weight = ndimage.gaussian_filter(region.astype(np.float32), sigma_px)[region]
    out = ndimage.gaussian_filter(full, sigma_px)[region] / np.maximum(weight, 1e-6)
    return np.clip(out * (float(values.mean()) / max(float(out.mean()), 1e-9)), 0.0, 1.0)
