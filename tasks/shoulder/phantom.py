"""The shoulder phantom: one sagittal-oblique T2-weighted FSE "Y-view" slice per shoulder,
exported to 8-bit as the seed's PNGs were, with the supraspinatus label, its Goutallier
grade and the ground-truth fat-fraction map (`tasks.shoulder.spec`).

A cohort with exactly the profile's grade counts (`tasks.shoulder.yview`: the rater, age,
sex, anatomy) is planned, then each slice is rendered at 2× in-plane resolution and
averaged down (partial volume, at the fascia above all):

1. anatomy: the scapular Y (body, spine, coracoid with its hooked tip: dark cortex, fatty
   marrow), clavicle, the supraspinatus in its fossa with its dark central tendon, the
   infraspinatus, teres minor, subscapularis, trapezius, posterior deltoid and pectorals
   competing for pixels with fat planes where they meet, axillary vessels (a flow void,
   slow venous flow) and plexus in axillary fat, subcutaneous fat and skin;
2. the supraspinatus's grade: fat streaks along septa that radiate from the central
   tendon, thickening towards the edge, and fat replacing muscle from the edge inward along
   an irregular front, at the subject's visible fat share; atrophy shrinks the muscle
   towards the fossa floor and the vacated fossa is fat (outside the label, inside its
   bounding box); the epimysium is a thin dark line with gaps;
3. what confounds a threshold: fluid as bright as fat on T2 (subacromial bursa; fluid along
   the retracted tendon of a cuff tear; intramuscular cysts), oedema (longer water T2)
   in the muscle, a surface-coil receive field, the fat outside a shrunken muscle in every
   edge pixel, Rician noise, and a per-case window to 0-255 as a DICOM → PNG export does;
4. signal: `mr.spin_echo_signal` with each exam's own TR/TE (`PROTOCOL`) — site A 1.5 T,
   TE 75-105 ms, TR 3000-4500 ms: fat 3.6-6.3× muscle, fluid 0.9-1.35× fat, oedema 2-2.5×
   muscle; site B, the external one, 3 T, TE 55-75 ms, TR 2500-3500 ms: fat 2.9-4.7×
   muscle, fluid 0.6-0.9× fat (another contrast), lower SNR, a stronger coil falloff and a
   blurrier reconstruction; respiratory ghosts in `GHOSTED` of the exams; through-slice
   averaging of the streaks (`SLICE_SMEAR_MM`).

The FF map (%) is the mean fat fraction of each pixel's sub-pixels (tendon and cortex,
which give no signal, count as 0; air is 0); the label is the mode of its sub-pixels.
Units: mm, ms; arrays ``(y, x)``, y superior → inferior, x anterior → posterior.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from mskbench.tasks.contract.writer import CaseArrays
from mskbench.tasks.phantoms import mr
from mskbench.tasks.phantoms.canvas import TissueCanvas, smooth_field
from mskbench.tasks.phantoms.shapes import Blob, Grid2D
from mskbench.tasks.shoulder.yview import (
    N_GRADES,
    SubjectPlan,
    YAnatomy,
    allocate,
    infiltration,
    plan_subject,
    sexes,
    sigmoid,
    through_slice,
    y_anatomy,
)

#: Bump when a change alters generated data (it is part of the phantom fingerprint).
VERSION = 1
SUPERSAMPLE = 2
ADIPOSE_FF = 0.92
INFILTRATE_FF = 0.85  # fat tissue replacing muscle, with a few fibres left in it
MARROW_FF = 0.80
#: Gaussian σ (mm) in the plane of the through-slice averaging of fat streaks: septa run
#: 10-30° off the normal of a 3-4 mm slice.
SLICE_SMEAR_MM = (0.4, 0.9)
SSP = 1
#: Body-frame position (mm) of the image centre: the Y junction sits right of and below it.
FOV_CENTRE = (-5.0, -10.0)
FAT_COMPARTMENTS = ("AXILLA",)  # compete like muscles, hold fat
_TAG = 13  # separates this phantom's random streams from other tasks'

#: Site A: 1.5 T T2-weighted FSE, TR 3500 ms, TE 85 ms (each exam draws its own from
#: `PROTOCOL`); muscle T2 in an FSE is longer than its CPMG T2 (stimulated echoes), fat
#: brighter (J-coupling).
SITE_A = mr.Site(
    "A", 1.5, 3500.0, 85.0, 1000.0, 42.0, 260.0, 165.0, snr=14.0, bias=0.5,
    intensity_scale=1000.0,
)  # fmt: skip
#: Site B: 3 T with a shorter TE (less T2 weighting), lower SNR, a steeper coil falloff.
SITE_B = mr.Site(
    "B", 3.0, 3000.0, 65.0, 1420.0, 38.0, 380.0, 135.0, snr=10.0, bias=0.7,
    intensity_scale=1000.0,
)  # fmt: skip
SITES = {"A": SITE_A, "B": SITE_B}
#: Per-exam (TE, TR) ranges in ms: two years of clinical exams are not one protocol.
PROTOCOL = {"A": ((75.0, 105.0), (3000.0, 4500.0)), "B": ((55.0, 75.0), (2500.0, 3500.0))}
#: Share of exams with respiratory ghosting (the coil rests on the moving chest wall).
GHOSTED = 0.3
BLUR_PX = {"A": 0.0, "B": 0.45}  # Gaussian σ (output pixels) of the reconstruction
FLUID_T1_MS, FLUID_T2_MS = 3500.0, 1200.0  # at 1.5 T


@dataclass(frozen=True)
class ScanPlan:
    case_id: str
    subject: SubjectPlan
    site: mr.Site  # the subject's site with this exam's TR and TE
    rotation: float  # radians: obliquity of the plane
    shift: tuple[float, float]  # mm
    seed: tuple[int, ...]


def plan_cohort(grade_counts: tuple[int, ...], n_external: int, seed: int) -> list[ScanPlan]:
    """Every slice: ``grade_counts[g]`` site-A shoulders of grade ``g`` (ids ``sNNN``) and
    ``n_external`` site-B shoulders in the same proportions (``xNNN``), grades shuffled."""
    if len(grade_counts) != N_GRADES:
        raise ValueError(f"grade_counts needs {N_GRADES} numbers, got {list(grade_counts)}")
    scans = []
    for site, prefix, counts in (
        ("A", "s", tuple(grade_counts)),
        ("B", "x", allocate(tuple(grade_counts), n_external)),
    ):
        grades = np.repeat(np.arange(N_GRADES), counts)
        cohort_rng = np.random.default_rng((seed, _TAG, ord(site)))
        cohort_rng.shuffle(grades)
        sex = sexes(cohort_rng, grades)
        width = max(3, len(str(len(grades))))
        for i, grade in enumerate(grades):
            subject_id = f"{prefix}{i + 1:0{width}d}"
            stream = (seed, _TAG, ord(site), i)
            subject = plan_subject(
                np.random.default_rng(stream), subject_id, site, int(grade), sex[i]
            )
            pose = np.random.default_rng((*stream, 1))
            (te_low, te_high), (tr_low, tr_high) = PROTOCOL[site]
            exam = replace(
                SITES[site],
                te_ms=pose.uniform(te_low, te_high),
                tr_ms=pose.uniform(tr_low, tr_high),
            )
            scans.append(
                ScanPlan(
                    case_id=subject_id,
                    subject=subject,
                    site=exam,
                    rotation=float(pose.normal(0, np.deg2rad(6))),
                    shift=(float(pose.normal(0, 5)), float(pose.normal(0, 5))),
                    seed=(*stream, 7),
                )
            )
    return scans


# -- helpers ------------------------------------------------------------------------------
def coil_bias(grid: Grid2D, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Receive field of a shoulder surface coil (mean 1 over the image): highest near a coil
    centre above and behind the shoulder, falling with the squared distance (log-amplitude
    ``strength`` × 0.6-1.4 at 100 mm; the coil's place varies with build and set-up), with a
    small random tilt."""
    cu, cv = rng.normal(25, 20), rng.normal(-75, 15)
    tilt = rng.normal(0, 0.1, 2)
    d2 = ((grid.u - cu) ** 2 + (grid.v - cv) ** 2) / 100.0**2
    log_b = -strength * rng.uniform(0.6, 1.4) * d2 + tilt[0] * grid.u / 100 + tilt[1] * grid.v / 100
    field = np.exp(log_b - log_b.mean())
    return (field / field.mean()).astype(np.float32)


def motion_ghosts(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Respiratory ghosting: attenuated copies of the complex image shifted both ways along
    the phase-encoding axis (random: rows or columns), added with a random phase; returns
    the magnitude (Rician noise may be added after it: its law depends only on |S|)."""
    axis = int(rng.integers(2))
    shift = int(image.shape[axis] * rng.uniform(0.15, 0.35))
    ghosts = np.roll(image, shift, axis) + np.roll(image, -shift, axis)
    amplitude = rng.uniform(0.03, 0.12) * np.exp(1j * rng.uniform(0, 2 * np.pi))
    return np.abs(image + amplitude * ghosts).astype(np.float32)


def export_8bit(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A DICOM → PNG export: the case's own window (low end near the 0.5th percentile, high
    end near the 98.5th-99.9th times 0.8-1.2, as a scanner's or a technologist's default
    window varies) mapped to 0-255, clipped and rounded."""
    low = float(np.percentile(image, rng.uniform(0.0, 1.0)))
    high = float(np.percentile(image, rng.uniform(98.5, 99.9))) * rng.uniform(0.8, 1.2)
    scaled = np.clip((image - low) / max(high - low, 1e-6), 0.0, 1.0) * 255.0
    return np.round(scaled).astype(np.float32)


@dataclass
class Tissue:
    """Super-resolved tissue properties of one slice (`render_tissue`)."""

    label: np.ndarray  # SSP = 1
    fat: np.ndarray  # fat fraction 0-1
    pd: np.ndarray  # proton density (muscle = 1)
    t1: np.ndarray  # water T1 (ms) at 1.5 T
    t2: np.ndarray  # water T2 (ms) at 1.5 T
    body: np.ndarray  # inside the skin
    fossa: np.ndarray  # the space a healthy supraspinatus fills (bone excluded)


def _scaled(blob: Blob, anchor: tuple[float, float], k: float, size_k: float | None = None):
    """``blob`` moved towards ``anchor`` by ``k`` and resized by ``size_k`` (default k)."""
    size_k = k if size_k is None else size_k
    return Blob(
        anchor[0] + k * (blob.cx - anchor[0]), anchor[1] + k * (blob.cy - anchor[1]),
        blob.ax * size_k, blob.ay * size_k, blob.angle, blob.amps, blob.phases,
    )  # fmt: skip


def render_tissue(scan: ScanPlan, shape: tuple[int, int], pixel_mm: float) -> Tissue:
    """Tissue properties of one slice at ``SUPERSAMPLE``× resolution (see the module
    docstring)."""
    subject = scan.subject
    rng = np.random.default_rng(scan.seed)
    shape_rng = np.random.default_rng(subject.shape_seed)
    anatomy: YAnatomy = y_anatomy(subject, shape_rng)
    fine = (shape[0] * SUPERSAMPLE, shape[1] * SUPERSAMPLE)
    shift = (scan.shift[0] - FOV_CENTRE[0], scan.shift[1] - FOV_CENTRE[1])
    grid = Grid2D(fine, pixel_mm / SUPERSAMPLE, scan.rotation, shift)
    u, v = grid.u, grid.v
    texture = smooth_field(rng, shape, 0.8 / pixel_mm, SUPERSAMPLE)
    front = smooth_field(rng, shape, 3.0 / pixel_mm, SUPERSAMPLE)
    bead = smooth_field(rng, shape, 1.0 / pixel_mm, SUPERSAMPLE)
    patch = smooth_field(rng, shape, 5.0 / pixel_mm, SUPERSAMPLE)

    canvas = TissueCanvas.blank(fine, SITE_A.t1_muscle_ms, 40.0)
    fat, pd, t1, t2 = canvas.fat, canvas.pd, canvas.t1, canvas.t2

    def paint(region, f, p, water_t2, water_t1=SITE_A.t1_muscle_ms):
        canvas.paint(region, f, p, water_t2, water_t1)

    d_body = grid.depth(anatomy.body, pad_mm=3.0)
    body = d_body < 0
    paint(body, ADIPOSE_FF, 1.0, 40.0)
    paint(body & (d_body > -1.6), 0.25, 0.8, 35.0)
    below_fascia = d_body + subject.fat_mm  # < 0 under the subcutaneous fat

    # muscles compete for pixels; a fat plane is left where two meet
    names = ["FOSSA", *anatomy.muscles]
    depths = [np.maximum(grid.depth(anatomy.fossa, 3.0), anatomy.fossa_wedge.depth(u, v))]
    for blob, wedge in anatomy.muscles.values():
        d = grid.depth(blob, 3.0)
        depths.append(d if wedge is None else np.maximum(d, wedge.depth(u, v)))
    stack = np.maximum(np.stack(depths), below_fascia[None])
    index = np.argmin(stack, axis=0)
    two = np.partition(stack, 1, axis=0)
    d1, gap = two[0], two[1] - two[0]
    won = body & (d1 < 0) & (gap >= subject.septum_mm)
    region = {name: won & (index == k) for k, name in enumerate(names)}
    fossa = region["FOSSA"]

    # the supraspinatus shrinks towards the fossa floor (its tendon less), leaving fat behind
    k = float(np.sqrt(subject.occupation))
    muscle_blob = _scaled(anatomy.fossa, anatomy.anchor, k)
    d_ssp = grid.depth(muscle_blob, 3.0)
    ssp = fossa & (d_ssp < 0)
    tendon_blob = _scaled(anatomy.tendon, anatomy.anchor, k, np.sqrt(k))
    d_tendon = grid.depth(tendon_blob, 6.0)
    tendon = ssp & (d_tendon < 0)
    fluid = np.zeros(fine, bool)
    if subject.tear:  # fluid around the retracted tendon stump, on one side or all round
        rim = rng.uniform(0.8, 2.0)
        side = rng.uniform(0, 2 * np.pi)
        around = np.cos(np.arctan2(v - tendon_blob.cy, u - tendon_blob.cx) - side)
        fluid |= ssp & (d_tendon >= 0) & (d_tendon < rim) & (around > rng.uniform(-1.0, 0.2))
    if subject.cyst:
        angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(3.0, 8.0) * k
        radius = rng.uniform(1.8, 4.0)
        cyst = Blob(tendon_blob.cx + dist * np.cos(angle), tendon_blob.cy + dist * np.sin(angle),
                    radius, radius * rng.uniform(0.7, 1.0), rng.uniform(0, np.pi))  # fmt: skip
        fluid |= ssp & (grid.depth(cyst, 1.0) < 0)
    fluid &= ~tendon
    belly = ssp & ~tendon & ~fluid

    base_other = float(rng.uniform(0.02, 0.04))
    muscle = np.zeros(fine, bool)
    for name, area in region.items():
        if name not in ("FOSSA", *FAT_COMPARTMENTS):
            paint(area, base_other, 1.0, SITE_A.t2_muscle_ms)
            muscle |= area
    paint(ssp, subject.baseline_ff, 1.0, SITE_A.t2_muscle_ms)
    membership = infiltration(
        u[belly], v[belly], -d_ssp[belly], (tendon_blob.cx, tendon_blob.cy), anatomy.septa,
        subject.fat_share, subject.edge_weight, front[belly], bead[belly],
    )  # fmt: skip
    smear_mm = rng.uniform(*SLICE_SMEAR_MM)
    membership = through_slice(membership, belly, smear_mm * SUPERSAMPLE / pixel_mm)
    base = subject.baseline_ff
    fat[belly] = base + (INFILTRATE_FF - base) * membership
    pd[belly] = 1.0 + 0.04 * texture[belly]
    if subject.oedema > 0:  # longer water T2 in a patch (or all) of the muscle
        cut = float(np.quantile(patch[belly], 1.0 - subject.oedema))
        extra = rng.uniform(15.0, 35.0) * sigmoid((patch[belly] - cut) / 0.3)
        t2[belly] = SITE_A.t2_muscle_ms + extra
    paint(tendon, 0.0, 0.1, 8.0)
    paint(fluid, 0.0, 1.0, FLUID_T2_MS, FLUID_T1_MS)
    # the epimysium: a thin dark line just outside the muscle, with gaps
    line = body & ~ssp & (d_ssp >= 0) & (d_ssp < 0.5) & (fossa | ~won) & (bead > -0.4)
    paint(line, 0.1, 0.35, 30.0)

    # the infraspinatus shares the infiltration of a posterosuperior tear
    isp = region["ISP"]
    if subject.infraspinatus_share > 0 and isp.any():
        m = infiltration(
            u[isp], v[isp], -d1[isp], anatomy.infraspinatus_tendon, anatomy.infraspinatus_septa,
            subject.infraspinatus_share, 0.5, front[isp], bead[isp],
        )  # fmt: skip
        fat[isp] = base_other + (INFILTRATE_FF - base_other) * m
    pd[muscle] = 1.0 + 0.04 * texture[muscle]

    if subject.bursa:  # subacromial bursa: a fluid crescent above the back of the fossa
        d_fossa = grid.depth(anatomy.fossa, 4.0)
        f = anatomy.fossa
        toward = np.arctan2(v - f.cy, u - f.cx) - rng.normal(-np.pi / 4, 0.3)
        thick = rng.uniform(0.8, 2.5)
        crescent = (d_fossa > 0.3) & (d_fossa < 0.3 + thick) & (np.cos(toward) > 0.6)
        paint(body & ~won & crescent & (below_fascia < 0), 0.0, 1.0, FLUID_T2_MS, FLUID_T1_MS)

    # bones over everything: dark cortex, fatty marrow
    cortex_mm = float(rng.uniform(1.0, 1.5))
    for shapes in (anatomy.scapula, (anatomy.clavicle,)):
        d_bone = np.minimum.reduce([grid.depth(b, 2.0) for b in shapes])
        bone = body & (d_bone < 0)
        paint(bone, 0.0, 0.05, 10.0)
        paint(bone & (d_bone < -cortex_mm), MARROW_FF, 1.0, 40.0)
        ssp &= ~bone
        fossa &= ~bone
    for blob, density, water_t2 in anatomy.vessels:
        paint(body & (grid.depth(blob, 1.0) < 0), 0.0, density, water_t2, FLUID_T1_MS)
    pd[~body] = 0.0
    fat[~body] = 0.0
    label = (ssp & body).astype(np.uint8) * SSP
    return Tissue(label, fat, pd, t1, t2, body, fossa)


def render_scan(scan: ScanPlan, shape: tuple[int, int], pixel_mm: float) -> CaseArrays:
    """Render one slice into the exported 8-bit image, the label and the FF map."""
    subject = scan.subject
    site = scan.site
    tissue = render_tissue(scan, shape, pixel_mm)
    rng = np.random.default_rng((*scan.seed, 11))
    # tissue water relaxation is drawn at 1.5 T; another field scales it like muscle's
    t1 = tissue.t1 * (site.t1_muscle_ms / SITE_A.t1_muscle_ms)
    t2 = tissue.t2 * (site.t2_muscle_ms / SITE_A.t2_muscle_ms)
    signal = mr.spin_echo_signal(site, tissue.pd, tissue.fat, t1, t2)
    image = mr.block_mean(signal, SUPERSAMPLE)
    if BLUR_PX[site.name]:
        image = ndimage.gaussian_filter(image, BLUR_PX[site.name])
    shift = (scan.shift[0] - FOV_CENTRE[0], scan.shift[1] - FOV_CENTRE[1])
    image *= coil_bias(Grid2D(shape, pixel_mm, scan.rotation, shift), rng, site.bias)
    if rng.random() < GHOSTED:
        image = motion_ghosts(image, rng)
    image = mr.rician(rng, image, 1.0 / site.snr) * site.intensity_scale
    image = export_8bit(image, rng)
    label = mr.block_mode4(tissue.label).astype(np.uint8)
    ff = 100.0 * mr.block_mean(tissue.fat * (tissue.pd > 0.05), SUPERSAMPLE)
    grade = subject.grade
    row = {
        "subject_id": subject.subject_id,
        "site": subject.site,
        "goutallier": grade,
        "risky": 1 if grade >= 3 else (0 if grade <= 1 else ""),
        "sex": subject.sex,
        "age": subject.age,
    }
    return CaseArrays(
        case_id=scan.case_id,
        image=image[None],
        label=label,
        spacing=(float(pixel_mm), float(pixel_mm)),
        row=row,
        maps={"ff": ff.astype(np.float32)},
    )


def n_cases(*, grade_counts: tuple[int, ...], n_external: int, **_: object) -> int:
    """Images in a dataset: one per shoulder."""
    return int(sum(grade_counts)) + int(n_external)


def generate(
    *,
    grade_counts: tuple[int, ...],
    n_external: int,
    shape: tuple[int, int],
    pixel_mm: float,
    seed: int,
) -> Iterator[CaseArrays]:
    """Yield every case of the shoulder phantom (keyword arguments: a profile's ``phantom``
    block + ``seed``)."""
    for scan in plan_cohort(tuple(grade_counts), n_external, seed):
        yield render_scan(scan, tuple(shape), pixel_mm)
