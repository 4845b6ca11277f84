"""The NMD phantom: axial T1w FSE volumes of the thigh or leg with FF, MTR and T2 maps.

A cohort like seed 003's (controls, CMT1A, FAP, CIDP; some subjects scanned more than
once; plus external subjects from a second site) is planned from the seed, then each
scan is rendered slice by slice:

1. anatomy from `tasks.nmd.limb` templates with per-subject size, girth, shape
   harmonics and subcutaneous fat; muscles compete for pixels (`Competition`) and a
   thin fat septum is left where two meet; deep fascia, skin, bones (dark cortex,
   fatty marrow) and vessels (flow voids) are added;
2. fat infiltration per muscle at its target FF, in two patterns: *sparse* (marbled
   streaks from a thresholded random field) and *compact* (fat replacing muscle from the
   edge inward along an irregular front) — compact infiltration makes the muscle edge as
   bright as the neighbouring fat, so the boundary fades as FF rises;
3. the signal model of `tasks.phantoms.mr` at 2× in-plane resolution, averaged down
   (partial volume), times a smooth bias field, with Rician noise;
4. the FF (%), MTR (p.u.) and apparent T2 (ms) maps from the same tissue model, blurred
   to the ≈1.7 mm resolution of the seed's quantitative sequences, with noise.

Ground truth is exact: the label map is the mode of each pixel's 2 × 2 sub-samples, and
each muscle's reference FF is the mean of the FF map inside its label.
Units: mm, %, ms. Arrays ``(z, y, x)``; z runs proximal → distal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mskbench.tasks.contract.writer import CaseArrays
from mskbench.tasks.nmd.limb import (
    DISTAL_GRADIENT,
    TEMPLATES,
    LimbTemplate,
    assign_groups,
    cohort_severities,
    interpolate,
    muscle_fat_fractions,
)
from mskbench.tasks.phantoms import mr
from mskbench.tasks.phantoms.shapes import FAR, Blob, Competition, Grid2D

#: Bump when a change alters generated data (it is part of the phantom fingerprint).
VERSION = 1
SUPERSAMPLE = 2
SECTION_MM = 200.0
ADIPOSE_FF = 0.90
MARROW_FF = 0.85
FAT_MTR = 8.0
MAP_FWHM_MM = 1.0  # effective resolution of the FF/MTR/T2 maps after registration to the T1w grid
INFLATE = 1.4  # muscles overlap their neighbours; the competition turns overlaps into septa
_SECTION_ID = {"thigh": 1, "leg": 2}


@dataclass(frozen=True)
class MusclePlan:
    dx: float
    dy: float
    scale: float
    dangle: float
    amps: tuple[float, ...]
    phases: tuple[float, ...]
    ff: float  # volume-mean target, %
    baseline: float  # FF of non-infiltrated fibres, %
    compact: float  # share of infiltration that is compact (0 = sparse, 1 = compact)
    direction: float  # angle from which compact infiltration advances
    t2_water: float  # ms
    mtr_water: float  # p.u.


@dataclass(frozen=True)
class SubjectPlan:
    subject_id: str
    group: str
    severity: float
    sex: str
    age: int
    side: str
    radius_mm: float
    fat_mm: float
    septum_mm: float
    compartment_amps: tuple[float, ...]
    compartment_phases: tuple[float, ...]
    fat_amps: tuple[float, ...]
    fat_phases: tuple[float, ...]
    muscles: dict[str, MusclePlan]


@dataclass(frozen=True)
class ScanPlan:
    case_id: str
    subject: SubjectPlan
    visit: int
    site: str
    t_offset: float
    rotation: float
    shift: tuple[float, float]
    progression: float  # absolute FF increase (%) per infiltrated muscle since visit 1
    seed: tuple[int, ...]


def _harmonics(
    rng: np.random.Generator, n: int, sd: float
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return tuple(rng.normal(0, sd, n).round(4)), tuple(rng.uniform(0, 2 * np.pi, n).round(4))


def plan_subject(
    rng: np.random.Generator, template: LimbTemplate, subject_id: str, group: str, severity: float
) -> SubjectPlan:
    sex = "M" if rng.random() < 48 / 81 else "F"
    mean_r, sd_r = template.radius_mm[sex]
    radius = float(rng.normal(mean_r, sd_r) * (1.0 - 0.08 * min(severity, 2.0)))
    mean_f, sd_f = template.fat_mm[sex]
    fat = float(np.clip(rng.normal(mean_f, sd_f), 2.5, 3.0 * mean_f))
    ffs = muscle_fat_fractions(rng, template, group, severity)
    edema = group != "control" and rng.random() < 0.5  # active denervation raises water T2
    muscles = {}
    for name, ff in ffs.items():
        amps, phases = _harmonics(rng, 3, 0.045)
        compact = float(1 / (1 + np.exp(-(ff - 14.0) / 4.0)) * rng.uniform(0.6, 1.0))
        muscles[name] = MusclePlan(
            dx=float(rng.normal(0, 0.025)),
            dy=float(rng.normal(0, 0.025)),
            scale=float(rng.lognormal(0, 0.07)),
            dangle=float(rng.normal(0, 0.08)),
            amps=amps,
            phases=phases,
            ff=ff,
            baseline=float(min(ff, 1.2 + rng.uniform(0, 1.2))),
            compact=compact,
            direction=float(rng.uniform(0, 2 * np.pi)),
            t2_water=float(
                31.0
                + rng.normal(0, 1.2)
                + (rng.uniform(6, 22) if edema and rng.random() < 0.7 else 0.0)
            ),
            mtr_water=float(54.5 - 10.0 * ff / 100 - 1.5 * severity + rng.normal(0, 1.0)),
        )
    c_amps, c_phases = _harmonics(rng, 3, 0.03)
    f_amps, f_phases = _harmonics(rng, 3, 0.15)
    return SubjectPlan(
        subject_id=subject_id,
        group=group,
        severity=severity,
        sex=sex,
        age=int(np.clip(rng.normal(53, 17), 18, 85)),
        side="R" if rng.random() < 0.5 else "L",
        radius_mm=radius,
        fat_mm=fat,
        septum_mm=float(rng.uniform(0.8, 1.5)),
        compartment_amps=c_amps,
        compartment_phases=c_phases,
        fat_amps=f_amps,
        fat_phases=f_phases,
        muscles=muscles,
    )


def plan_cohort(
    section: str, n_subjects: int, n_scans: int, n_external: int, seed: int
) -> list[ScanPlan]:
    """All scans of a phantom dataset: ``n_scans`` at site A from ``n_subjects`` subjects
    (every subject once, the rest as repeat visits), plus ``n_external`` site-B subjects."""
    if n_scans < n_subjects:
        raise ValueError(f"n_scans ({n_scans}) must be >= n_subjects ({n_subjects})")
    template = TEMPLATES[section]
    base = (seed, _SECTION_ID[section])
    scans: list[ScanPlan] = []
    for site, prefix, n_subj, n_total in (
        ("A", "s", n_subjects, n_scans),
        ("B", "x", n_external, n_external),
    ):
        if n_subj == 0:
            continue
        cohort_rng = np.random.default_rng((*base, ord(site)))
        groups = assign_groups(cohort_rng, n_subj)
        severities = cohort_severities(cohort_rng, groups)
        visits = np.ones(n_subj, dtype=int)
        for i in cohort_rng.choice(n_subj, size=n_total - n_subj, replace=True):
            visits[i] += 1
        for i, (group, severity) in enumerate(zip(groups, severities, strict=True)):
            subject_id = f"{prefix}{i + 1:03d}"
            subject = plan_subject(
                np.random.default_rng((*base, ord(site), i)), template, subject_id, group, severity
            )
            for visit in range(1, visits[i] + 1):
                rng = np.random.default_rng((*base, ord(site), i, visit))
                scans.append(
                    ScanPlan(
                        case_id=f"{subject_id}v{visit}",
                        subject=subject,
                        visit=visit,
                        site=site,
                        t_offset=float(rng.uniform(-0.05, 0.05)),
                        rotation=float(rng.normal(0, np.deg2rad(4))),
                        shift=(float(rng.normal(0, 5)), float(rng.normal(0, 5))),
                        progression=float((visit - 1) * rng.uniform(0.3, 1.5) * severity),
                        seed=(*base, ord(site), i, visit, 7),
                    )
                )
    return scans


# -- rendering ----------------------------------------------------------------------------
@dataclass
class _Slice:
    """Super-resolved tissue properties of one slice."""

    label: np.ndarray  # muscle value 1..K, 0 elsewhere
    fat: np.ndarray  # local fat fraction 0-1
    pd: np.ndarray  # proton density (muscle water = 1)
    t2_water: np.ndarray  # ms
    mtr: np.ndarray  # p.u.
    body: np.ndarray  # inside the skin


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _angular(grid: Grid2D, amps: tuple[float, ...], phases: tuple[float, ...]) -> np.ndarray:
    """``1 + Σ amps[n]·cos((n+1)·θ − phases[n])`` at each pixel's body-frame angle θ."""
    theta = np.arctan2(grid.v, grid.u)
    out = np.ones_like(theta)
    for order, (amp, phase) in enumerate(zip(amps, phases, strict=True), start=1):
        out += amp * np.cos(order * theta - phase)
    return out


def _muscle_blob(keyframes, plan: MusclePlan, t: float, r: float, inflate: float) -> Blob:
    cx, cy, ax, ay, angle = interpolate(keyframes, t)
    return Blob(
        cx=(cx + plan.dx) * r,
        cy=(cy + plan.dy) * r,
        ax=ax * plan.scale * inflate * r,
        ay=ay * plan.scale * inflate * r,
        angle=np.deg2rad(angle) + plan.dangle,
        amps=plan.amps,
        phases=plan.phases,
    )


def _render_slice(
    template: LimbTemplate,
    scan: ScanPlan,
    grid: Grid2D,
    t: float,
    front_noise: np.ndarray,
    marble_noise: np.ndarray,
    fat_profile: np.ndarray,
) -> _Slice:
    subject = scan.subject
    r = subject.radius_mm * (1.0 - template.taper * t)
    aspect = template.compartment_aspect
    fat = min(subject.fat_mm, 0.46 * grid.shape[1] * grid.pixel_mm - r)
    fascia = grid.depth(
        Blob(0, 0, r, r * aspect, 0, subject.compartment_amps, subject.compartment_phases),
        pad_mm=2.0 * fat + 5.0,
    )
    skin = fascia - fat * fat_profile
    shape = grid.shape
    bone_outer = np.full(shape, FAR, np.float32)
    bone_inner = np.full(shape, FAR, np.float32)
    for (cx, cy), outer, inner, tri in template.bones.values():
        # ``tri``: amplitude of the 3rd harmonic (the tibia's triangular section)
        amps, phases = ((0.0, tri), (0.0, 0.3)) if tri else ((), ())
        inner_amps = tuple(a / 2 for a in amps)
        bone_outer = np.minimum(
            bone_outer, grid.depth(Blob(cx * r, cy * r, outer * r, outer * r, 0.0, amps, phases))
        )
        bone_inner = np.minimum(
            bone_inner,
            grid.depth(Blob(cx * r, cy * r, inner * r, inner * r, 0.0, inner_amps, phases)),
        )
    vessel = np.full(shape, FAR, np.float32)
    for keyframes, radius in template.vessels:
        cx, cy, *_ = interpolate(keyframes, t)
        vessel = np.minimum(vessel, grid.depth(Blob(cx * r, cy * r, radius * r, radius * r)))

    competition = Competition(grid)
    names = list(template.muscles)
    for k, name in enumerate(names):
        competition.add(
            k, _muscle_blob(template.muscles[name], subject.muscles[name], t, r, inflate=INFLATE)
        )
    d1, d2, index = competition.d1, competition.d2, competition.index
    gap = d2 - d1

    half_fascia = 0.45
    body = skin < 0
    inside = fascia < -half_fascia
    bone = inside & (bone_outer < 0)
    void = inside & ~bone & (vessel < 0)
    soft = inside & ~bone & ~void
    muscle = soft & (d1 < 0) & (gap >= subject.septum_mm)

    label = np.zeros(shape, np.uint8)
    fat_frac = np.zeros(shape, np.float32)
    pd = np.zeros(shape, np.float32)
    t2w = np.full(shape, 35.0, np.float32)
    mtr_w = np.full(shape, 40.0, np.float32)

    # skin, subcutaneous fat, deep fascia
    pd[body] = 1.0
    fat_frac[body] = ADIPOSE_FF
    skin_ring = body & (skin > -1.6)
    fat_frac[skin_ring], pd[skin_ring] = 0.25, 0.8
    fascia_ring = body & ~skin_ring & (np.abs(fascia) <= half_fascia)
    fat_frac[fascia_ring], pd[fascia_ring] = 0.05, 0.3
    # bones and vessels
    marrow = bone & (bone_inner < 0)
    fat_frac[bone], pd[bone] = 0.0, 0.03
    fat_frac[marrow], pd[marrow] = MARROW_FF, 1.0
    fat_frac[void], pd[void] = 0.0, 0.08
    # intermuscular fat with a faint epimysium line where two muscles meet
    septum = soft & ~muscle
    fat_frac[septum] = ADIPOSE_FF
    epimysium = septum & (d1 < 0) & (gap < 0.4)
    pd[epimysium] = 0.55

    # muscles and their infiltration
    depth = np.minimum(np.minimum(-d1, 0.5 * (gap - subject.septum_mm)), -fascia - half_fascia)
    depth = np.minimum(depth, np.minimum(bone_outer, vessel))
    for k, name in enumerate(names):
        region = muscle & (index == k)
        if not region.any():
            continue
        plan = subject.muscles[name]
        label[region] = k + 1
        gradient = DISTAL_GRADIENT[subject.group] * (t - 0.5)
        target = min(plan.ff + scan.progression * (plan.ff > 8), 85.0) * (1.0 + gradient)
        base = plan.baseline / 100.0
        share = float(np.clip((target / 100.0 - base) / (ADIPOSE_FF - base), 0.0, 0.97))
        membership = np.zeros(int(region.sum()), np.float32)
        if share > 0:
            p_compact = share * plan.compact
            p_sparse = (share - p_compact) / max(1.0 - p_compact, 1e-6)
            if p_compact > 0:
                u, v = grid.u[region], grid.v[region]
                along = (u * np.cos(plan.direction) + v * np.sin(plan.direction)) / r
                score = depth[region] + 2.0 * front_noise[region] + 0.25 * r * along
                cut = np.quantile(score, p_compact)
                membership = _sigmoid((cut - score) / 0.5)
            if p_sparse > 0:
                # reticular marbling: fat along the level set |noise| ≈ 0 (thin curved streaks
                # between fascicles) that thickens into patches as infiltration grows
                ridge = np.abs(marble_noise[region])
                cut = np.quantile(ridge, p_sparse)
                membership = 1.0 - (1.0 - membership) * (1.0 - _sigmoid((cut - ridge) / 0.06))
            # soft edges blur the quantile cut: rescale so the muscle's mean FF is the target
            membership = np.clip(
                membership * (share / max(float(membership.mean()), 1e-6)), 0.0, 1.0
            )
        fat_frac[region] = base + (ADIPOSE_FF - base) * membership
        t2w[region] = plan.t2_water
        mtr_w[region] = plan.mtr_water
    mtr = np.where(pd > 0.05, (1 - fat_frac) * mtr_w + fat_frac * FAT_MTR, 0.0).astype(np.float32)
    mtr[~body] = 0.0
    return _Slice(label, fat_frac, pd, t2w, mtr, body)


def render_scan(
    template: LimbTemplate,
    scan: ScanPlan,
    shape: tuple[int, int],
    pixel_mm: float,
    n_slices: int,
    slice_mm: float,
) -> CaseArrays:
    """Render one scan into image, label and maps (see the module docstring)."""
    site = mr.SITES[scan.site]
    rng = np.random.default_rng(scan.seed)
    fine_shape = (shape[0] * SUPERSAMPLE, shape[1] * SUPERSAMPLE)
    grid = Grid2D(fine_shape, pixel_mm / SUPERSAMPLE, scan.rotation, scan.shift)
    coarse = (n_slices, *shape)
    front = mr.smooth_noise(rng, coarse, (0.0, 2.5 / pixel_mm, 2.5 / pixel_mm))
    marble = mr.smooth_noise(rng, coarse, (0.0, 2.0 / pixel_mm, 2.0 / pixel_mm))
    span = n_slices * slice_mm / SECTION_MM
    ts = scan.t_offset + 0.5 * (1 - span) + (np.arange(n_slices) + 0.5) * slice_mm / SECTION_MM

    w_muscle, w_fat = site.weights()
    image = np.empty(coarse, np.float32)
    label = np.empty(coarse, np.uint8)
    ff = np.empty(coarse, np.float32)
    mtr = np.empty(coarse, np.float32)
    t2 = np.empty(coarse, np.float32)
    body = np.empty(coarse, bool)
    fat_profile = _angular(grid, scan.subject.fat_amps, scan.subject.fat_phases)
    for z, t in enumerate(ts):
        up = np.repeat(np.repeat(front[z], SUPERSAMPLE, 0), SUPERSAMPLE, 1)
        up_m = np.repeat(np.repeat(marble[z], SUPERSAMPLE, 0), SUPERSAMPLE, 1)
        s = _render_slice(template, scan, grid, float(t), up, up_m, fat_profile)
        signal = s.pd * ((1 - s.fat) * w_muscle + s.fat * w_fat) / w_muscle
        image[z] = mr.block_mean(signal, SUPERSAMPLE)
        label[z] = mr.block_mode4(s.label)
        f = mr.block_mean(s.fat * (s.pd > 0.05), SUPERSAMPLE)
        ff[z] = f
        mtr[z] = mr.block_mean(s.mtr, SUPERSAMPLE)
        t2[z] = mr.apparent_t2(f, mr.block_mean(s.t2_water, SUPERSAMPLE))
        body[z] = mr.block_mean(s.body.astype(np.float32), SUPERSAMPLE) > 0.5
    image *= mr.bias_field(rng, coarse, site.bias)
    image = mr.rician(rng, image, 1.0 / site.snr) * site.intensity_scale
    image = np.clip(np.round(image), 0, 32767).astype(np.int16)

    sigma = (0.0, MAP_FWHM_MM / 2.355 / pixel_mm, MAP_FWHM_MM / 2.355 / pixel_mm)
    maps = {}
    for name, array, noise_sd, scale in (
        ("ff", ff, 0.006, 100.0),
        ("mtr", mtr, 1.2, 1.0),
        ("t2", t2, 1.5, 1.0),
    ):
        smooth = ndimage.gaussian_filter(array, sigma) if sigma[1] > 0.3 else array
        noisy = (smooth + rng.normal(0, noise_sd, coarse).astype(np.float32)) * scale
        maps[name] = np.where(body, np.clip(noisy, 0, None), 0.0).astype(np.float32)
    maps["t2"][~body] = 0.0

    if scan.subject.side == "L":  # mirror the right-limb rendering
        image, label = image[..., ::-1], label[..., ::-1]
        maps = {k: v[..., ::-1] for k, v in maps.items()}
    names = list(template.muscles)
    row = {
        "subject_id": scan.subject.subject_id,
        "site": scan.site,
        "group": scan.subject.group,
        "side": scan.subject.side,
        "visit": scan.visit,
        "sex": scan.subject.sex,
        "age": scan.subject.age,
    }
    for k, name in enumerate(names):
        inside = label == k + 1
        row[f"ref_ff_{name}"] = float(maps["ff"][inside].mean()) if inside.any() else float("nan")
    for name in names:
        row[f"pattern_{name}"] = (
            "compact" if scan.subject.muscles[name].compact >= 0.5 else "sparse"
        )
    return CaseArrays(
        case_id=scan.case_id,
        image=np.ascontiguousarray(image)[None],
        label=np.ascontiguousarray(label),
        spacing=(float(slice_mm), float(pixel_mm), float(pixel_mm)),
        row=row,
        maps={k: np.ascontiguousarray(v) for k, v in maps.items()},
    )


def generate(
    section: str,
    *,
    n_subjects: int,
    n_scans: int,
    n_external: int,
    shape: tuple[int, int],
    pixel_mm: float,
    n_slices: int,
    slice_mm: float,
    seed: int,
) -> Iterator[CaseArrays]:
    """Yield every case of an NMD phantom dataset of the ``thigh`` or ``leg``."""
    template = TEMPLATES[section]
    for scan in plan_cohort(section, n_subjects, n_scans, n_external, seed):
        yield render_scan(template, scan, tuple(shape), pixel_mm, n_slices, slice_mm)


def generate_thigh(**params) -> Iterator[CaseArrays]:
    """The `nmd_thigh` phantom (keyword arguments: a profile's ``phantom`` block + ``seed``)."""
    return generate("thigh", **params)


def generate_leg(**params) -> Iterator[CaseArrays]:
    """The `nmd_leg` phantom (keyword arguments: a profile's ``phantom`` block + ``seed``)."""
    return generate("leg", **params)
