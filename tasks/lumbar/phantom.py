"""The lumbar phantom: axial T2-weighted FSE slices at L2/L3, L3/L4 and L4/L5 with the
structure labels and the intramuscular fat mask of seed 002 (`tasks.lumbar.spec`).

A cohort of patients (`tasks.lumbar.spine.plan_subject`) is planned, then each level of
each patient is rendered at 2× in-plane resolution and averaged down (partial volume):

1. anatomy (`spine.slice_anatomy`): kidney-shaped disc (dark annulus, nucleus whose T2
   falls with degeneration), vertebral arch (lamina ring, facets, spinous and transverse
   processes: dark cortex, fatty marrow), thecal sac (bright CSF, nerve roots) in epidural
   fat, psoas, quadratus lumborum, multifidus, longissimus and iliocostalis competing for
   pixels (`Competition`) with fat septa where they meet (faint between longissimus and
   iliocostalis, absent at L4/L5 where they merge), the thoracolumbar fascia (dark
   line) around the paraspinal group, unlabelled abdominal-wall muscle, kidney, bowel
   (with bright fluid), flow voids of the great vessels, subcutaneous fat and skin;
2. intramuscular fat per muscle at its target FI: curved streaks (the ridge of a random
   field) and patches (a slower field), denser at the muscle's periphery, with soft
   edges — so partly fatty pixels brighten without being fat — and the reference fat
   mask is exact: pixels whose fatty sub-pixels are at least half;
3. signal (`mr.spin_echo_signal`): T2-weighted FSE (site A: 1.5 T, TR 3800 ms, TE 120 ms,
   fat ≈ 7× muscle; site B, the external hospital: 3 T, TR 3000 ms, TE 80 ms, lower
   fat/muscle contrast, noisier, blurrier, a stronger bias field), smooth muscle texture,
   oedema (longer water T2) in the symptomatic multifidus, a posterior-coil bias field,
   Rician noise.

Fat *outside* a muscle right next to it is everywhere (septa, the fat under the fascia,
retroperitoneal fat at the psoas and quadratus lumborum): the seed's failure mode, where
a fat model marks it once the muscle mask leaks into it.
Units: mm, ms; arrays ``(y, x)`` with y anterior → posterior, x patient right → left.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mskbench.tasks.contract.writer import CaseArrays
from mskbench.tasks.lumbar.spec import LEVELS, MUSCLES, STRUCTURES
from mskbench.tasks.lumbar.spine import SubjectPlan, plan_subject, right_muscles, slice_anatomy
from mskbench.tasks.phantoms import mr
from mskbench.tasks.phantoms.canvas import TissueCanvas, smooth_field
from mskbench.tasks.phantoms.shapes import FAR, Blob, Competition, Grid2D

#: Bump when a change alters generated data (it is part of the phantom fingerprint).
VERSION = 2
SUPERSAMPLE = 2
ADIPOSE_FF = 0.92
#: Width of the partly fatty zone at the edge of fat streaks, in SDs of the fat score
#: (`_fat_membership`): the through-slice partial volume of 4.5 mm slices.
SOFTNESS = 0.4
FOV_CENTRE_Y_MM = -4.0  # body-frame y at the image centre
LABEL_OF = {name: i + 1 for i, name in enumerate(STRUCTURES)}
LEVEL_CODE = {"L2/L3": "L23", "L3/L4": "L34", "L4/L5": "L45"}

#: Site A: the seed's 1.5 T GE scanner (TR 3600–4000 ms, TE 120–125 ms). Muscle T2 in a
#: fast spin echo is longer than its CPMG T2 (stimulated echoes), fat brighter (J-coupling).
SITE_A = mr.Site(
    "A", 1.5, 3800.0, 120.0, 1000.0, 45.0, 260.0, 165.0, snr=7.0, bias=0.35,
    intensity_scale=120.0,
)  # fmt: skip
#: Site B: another hospital's 3 T scanner with a shorter TE (less T2 weighting: fat only
#: ≈ 4.6× muscle), lower SNR, a stronger bias field and a blurrier reconstruction.
SITE_B = mr.Site(
    "B", 3.0, 3000.0, 80.0, 1400.0, 40.0, 380.0, 135.0, snr=5.0, bias=0.6,
    intensity_scale=300.0,
)  # fmt: skip
SITES = {"A": SITE_A, "B": SITE_B}
BLUR_PX = {"A": 0.0, "B": 0.4}  # Gaussian σ (output pixels) of the reconstruction


@dataclass(frozen=True)
class ScanPlan:
    case_id: str
    subject: SubjectPlan
    level: int
    rotation: float
    shift: tuple[float, float]
    seed: tuple[int, ...]


def plan_cohort(n_subjects: int, n_external: int, seed: int) -> list[ScanPlan]:
    """Every slice of a dataset: three levels of ``n_subjects`` site-A patients and of
    ``n_external`` site-B patients (ids ``sNNN`` and ``xNNN``)."""
    scans = []
    for site, prefix, n in (("A", "s", n_subjects), ("B", "x", n_external)):
        for i in range(n):
            subject_id = f"{prefix}{i + 1:03d}"
            subject = plan_subject(np.random.default_rng((seed, 2, ord(site), i)), subject_id, site)
            for level, name in enumerate(LEVELS):
                rng = np.random.default_rng((seed, 2, ord(site), i, level))
                scans.append(
                    ScanPlan(
                        case_id=f"{subject_id}_{LEVEL_CODE[name]}",
                        subject=subject,
                        level=level,
                        rotation=float(rng.normal(0, np.deg2rad(3))),
                        shift=(float(rng.normal(0, 4)), float(rng.normal(0, 4))),
                        seed=(seed, 2, ord(site), i, level, 7),
                    )
                )
    return scans


# -- helpers ------------------------------------------------------------------------------
def _depth(grid: Grid2D, e: Blob | None, pad_mm: float = 2.0) -> np.ndarray:
    if e is None:
        return np.full(grid.shape, FAR, np.float32)
    return grid.depth(e, pad_mm)


def _pair(grid: Grid2D, e: Blob, pad_mm: float = 2.0) -> np.ndarray:
    """Depth of a structure and its mirror image (union)."""
    return np.minimum(_depth(grid, e, pad_mm), _depth(grid, e.mirrored(), pad_mm))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def bias_field(rng: np.random.Generator, shape: tuple[int, int], strength: float) -> np.ndarray:
    """Receive field of a posterior spine coil (mean ≈ 1): brightest at the back, falling
    anteriorly, with a random left/right tilt."""
    y, x = (np.linspace(-1, 1, n, dtype=np.float32) for n in shape)
    yy, xx = y[:, None], x[None, :]
    a = rng.normal(0, 1, 3).astype(np.float32)
    log_b = strength * (0.8 * yy + 0.15 * yy**2 + 0.2 * a[0] * xx + 0.1 * a[1] * xx * yy
                        + 0.25 * xx**2 + 0.05 * a[2])  # fmt: skip
    return np.exp(log_b - log_b.mean()).astype(np.float32)


@dataclass
class Tissue:
    """Super-resolved tissue properties of one slice (`render_tissue`)."""

    label: np.ndarray  # structure label values
    fat: np.ndarray  # fat fraction 0-1
    pd: np.ndarray  # proton density (muscle = 1)
    t1: np.ndarray  # water T1 (ms) at 1.5 T
    t2: np.ndarray  # water T2 (ms) at 1.5 T
    intramuscular: np.ndarray  # fat membership (0-1) of muscle sub-pixels: reference fat ≥ 0.5
    muscle: np.ndarray  # bool: any labelled muscle


def _fat_membership(score: np.ndarray, fi: float, softness: float) -> np.ndarray:
    """Soft fat membership (0-1) of a muscle's sub-pixels from their ``score``: the ``fi``
    share with the highest score is more than half fat; ``softness`` (in score SDs) widens
    the partly fatty zone around that cut (through-slice partial volume of 4.5 mm slices)."""
    cut = float(np.quantile(score, 1.0 - fi))
    width = softness * float(score.std()) + 1e-6
    return _sigmoid((score - cut) / width).astype(np.float32)


def render_tissue(scan: ScanPlan, shape: tuple[int, int], pixel_mm: float) -> Tissue:
    """Tissue properties of one slice at ``SUPERSAMPLE``× resolution (see module docstring)."""
    subject, level = scan.subject, scan.level
    rng = np.random.default_rng(scan.seed)
    fine = (shape[0] * SUPERSAMPLE, shape[1] * SUPERSAMPLE)
    shift = (scan.shift[0], scan.shift[1] - FOV_CENTRE_Y_MM)
    grid = Grid2D(fine, pixel_mm / SUPERSAMPLE, scan.rotation, shift)
    anatomy = slice_anatomy(subject, level, np.random.default_rng((subject.shape_seed, level)))
    right = right_muscles(subject, level, anatomy, np.random.default_rng((subject.shape_seed, 9)))

    ridge = smooth_field(rng, shape, 1.5 / pixel_mm, SUPERSAMPLE)
    patch = smooth_field(rng, shape, 3.5 / pixel_mm, SUPERSAMPLE)
    texture = smooth_field(rng, shape, 0.7 / pixel_mm, SUPERSAMPLE)
    bowel = smooth_field(rng, shape, 2.5 / pixel_mm, SUPERSAMPLE)

    label = np.zeros(fine, np.uint8)
    canvas = TissueCanvas.blank(fine, SITE_A.t1_muscle_ms, 45.0)
    fat, pd, t1, t2 = canvas.fat, canvas.pd, canvas.t1, canvas.t2

    def paint(region, f, p, water_t2, water_t1=SITE_A.t1_muscle_ms):
        canvas.paint(region, f, p, water_t2, water_t1)

    # body, skin, subcutaneous / retroperitoneal fat (the default inside the body)
    d_body = grid.depth(anatomy.body, pad_mm=2.0)
    body = d_body < 0
    paint(body, ADIPOSE_FF, 1.0, 40.0)
    paint(body & (d_body > -1.6), 0.25, 0.8, 35.0)
    # bowel with fluid and fat, kidney with sinus fat, abdominal-wall muscle (unlabelled)
    cavity = body & (_depth(grid, anatomy.cavity, 4.0) < 0)
    fluid = bowel > 1.7
    paint(cavity, 0.05, 0.85, 60.0)
    paint(cavity & fluid, 0.0, 1.0, 600.0, 3500.0)
    paint(cavity & (bowel < -1.6), ADIPOSE_FF, 1.0, 40.0)
    if anatomy.kidney is not None:
        k = anatomy.kidney
        paint(body & (_pair(grid, k) < 0), 0.0, 1.0, 85.0, 1100.0)
        sinus = Blob(k.cx - 0.45 * k.ax, k.cy, 0.35 * k.ax, 0.35 * k.ay, k.angle)
        paint(body & (_pair(grid, sinus) < 0), ADIPOSE_FF, 1.0, 40.0)
    paint(body & (_pair(grid, anatomy.abdominal_wall) < 0), 0.03, 1.0, 45.0)

    # muscles compete for pixels; a fat septum is left where two meet
    names = [f"{m}_{side}" for m in MUSCLES for side in ("L", "R")]
    shapes = {f"{m}_L": anatomy.muscles[m] for m in MUSCLES} | {f"{m}_R": right[m] for m in MUSCLES}
    competition = Competition(grid)
    for k, name in enumerate(names):
        competition.add(k, shapes[name])
    d1, gap = competition.d1, competition.d2 - competition.d1
    septum = np.full(fine, subject.septum_mm, np.float32)
    edge_depth = d1.copy()  # depth below the nearest muscle edge that fat gathers along
    for side in ("L", "R"):  # longissimus and iliocostalis: a faint septum, none caudally,
        lo, il = (_depth(grid, shapes[f"{m}_{side}"]) for m in ("LO", "IL"))
        septum[np.maximum(lo, il) < subject.septum_mm] = (
            subject.septum_mm * subject.lo_il_septum[level]
        )
        erector = np.isin(competition.index, [names.index(f"{m}_{side}") for m in ("LO", "IL")])
        edge_depth[erector] = np.minimum(lo, il)[erector]  # and no fat line between them
    in_muscle = body & (d1 < 0) & (gap >= septum)
    # thoracolumbar fascia: a dark line ~2 mm outside the paraspinal group
    paraspinal = np.minimum.reduce(
        [_depth(grid, shapes[n], 6.0) for n in names if n[:2] in ("MF", "LO", "IL")]
    )
    fascia = (
        body
        & ~in_muscle
        & (paraspinal > 1.2 + subject.septum_mm)
        & (paraspinal < 2.0 + subject.septum_mm)
    )
    paint(fascia, 0.05, 0.3, 30.0)

    # bone and disc are drawn over the muscles
    d_disc = np.maximum(grid.depth(anatomy.disc, 2.0), -_depth(grid, anatomy.notch))
    disc = body & (d_disc < 0)
    outer, inner = anatomy.arch
    d_ring = np.maximum(_depth(grid, outer), -_depth(grid, inner))
    d_ring = np.where(grid.v > 6.0, d_ring, FAR)
    d_arch = np.minimum.reduce(
        [d_ring, _pair(grid, anatomy.facet), _depth(grid, anatomy.spinous),
         _pair(grid, anatomy.transverse)]
    )  # fmt: skip
    arch = body & (d_arch < 0) & ~disc
    canal = body & (_depth(grid, anatomy.epidural) < 0) & ~disc & ~arch
    sac = canal & (_depth(grid, anatomy.sac) < 0)

    muscle = in_muscle & ~disc & ~arch & ~canal
    intramuscular = np.zeros(fine, np.float32)
    periphery = np.clip(1.0 + edge_depth / 3.0, 0.0, 1.0)  # 1 at the edge, 0 from 3 mm in
    for k, name in enumerate(names):
        region = muscle & (competition.index == k)
        if not region.any():
            continue
        side = subject.sides[(level, name[-1])]
        muscle_name = name[:2]
        e = shapes[name]
        direction = rng.uniform(0, 2 * np.pi)
        along = (
            (grid.u[region] - e.cx) * np.cos(direction)
            + (grid.v[region] - e.cy) * np.sin(direction)
        ) / max(e.ax, e.ay)
        score = (
            -0.7 * np.abs(ridge[region])
            + 0.8 * patch[region]
            + 1.0 * periphery[region]
            + 0.3 * along
        )
        membership = _fat_membership(score, side.fi[muscle_name], SOFTNESS)
        base = float(rng.uniform(0.02, 0.05))
        label[region] = LABEL_OF[name]
        fat[region] = base + (ADIPOSE_FF - base) * membership
        pd[region] = 1.0 + 0.04 * texture[region]
        t2[region] = side.t2_water[muscle_name] * (1.0 + 0.06 * texture[region])
        t1[region] = SITE_A.t1_muscle_ms
        intramuscular[region] = membership

    # disc: dark annulus, nucleus bright unless degenerated
    degeneration = subject.degeneration[level]
    nucleus = _sigmoid(-_depth(grid, anatomy.nucleus, 4.0) / 1.5)
    label[disc] = LABEL_OF["IVD"]
    paint(disc, 0.0, 0.85, 42.0)
    t2[disc] = (42.0 + 78.0 * (1.0 - degeneration) * nucleus[disc]).astype(np.float32)
    # canal: epidural fat, CSF, nerve roots
    paint(canal, ADIPOSE_FF, 1.0, 40.0)
    paint(sac, 0.0, 1.0, 1500.0, 4000.0)
    for _ in range(int(rng.integers(5, 10))):
        root = Blob(float(rng.normal(0, 4)), float(anatomy.sac.cy + rng.normal(2.5, 1.5)), 0.9, 0.9)
        paint(sac & (_depth(grid, root, 1.0) < 0), 0.0, 0.9, 70.0)
    # vertebral arch: dark cortex, fatty marrow
    label[arch] = LABEL_OF["VA"]
    paint(arch, 0.0, 0.06, 20.0)
    paint(arch & (d_arch < -1.0), 0.55, 0.9, 45.0)
    for vessel, density in anatomy.vessels:
        paint(body & (_depth(grid, vessel) < 0), 0.0, density, 200.0)
    label[~body] = 0
    pd[~body] = 0.0
    intramuscular[label <= LABEL_OF["VA"]] = 0.0
    return Tissue(label, fat, pd, t1, t2, intramuscular, muscle)


def render_scan(scan: ScanPlan, shape: tuple[int, int], pixel_mm: float) -> CaseArrays:
    """Render one slice into image, label and fat mask (see the module docstring)."""
    site = SITES[scan.subject.site]
    tissue = render_tissue(scan, shape, pixel_mm)
    rng = np.random.default_rng((*scan.seed, 11))
    # tissue water relaxation is drawn at 1.5 T; another field scales it like muscle's
    t1 = tissue.t1 * (site.t1_muscle_ms / SITE_A.t1_muscle_ms)
    t2 = tissue.t2 * (site.t2_muscle_ms / SITE_A.t2_muscle_ms)
    signal = mr.spin_echo_signal(site, tissue.pd, tissue.fat, t1, t2)
    image = mr.block_mean(signal, SUPERSAMPLE)
    if BLUR_PX[site.name]:
        image = ndimage.gaussian_filter(image, BLUR_PX[site.name])
    image *= bias_field(rng, image.shape, site.bias)
    image = mr.rician(rng, image, 1.0 / site.snr) * site.intensity_scale
    image = np.clip(np.round(image), 0, 32767).astype(np.int16)
    label = mr.block_mode4(tissue.label).astype(np.uint8)
    fat = (mr.block_mean(tissue.intramuscular, SUPERSAMPLE) >= 0.5) & (label > LABEL_OF["VA"])
    subject = scan.subject
    row = {
        "subject_id": subject.subject_id,
        "site": subject.site,
        "level": LEVELS[scan.level],
        "sex": subject.sex,
        "age": subject.age,
        "bmi": round(subject.bmi, 1),
        "symptom_side": subject.symptom_side,
    }
    return CaseArrays(
        case_id=scan.case_id,
        image=image[None],
        label=label,
        spacing=(float(pixel_mm), float(pixel_mm)),
        row=row,
        masks={"fat": fat.astype(np.uint8)},
    )


def n_cases(*, n_subjects: int, n_external: int, **_: object) -> int:
    """Slices in a dataset: three levels per patient."""
    return len(LEVELS) * (n_subjects + n_external)


def generate(
    *, n_subjects: int, n_external: int, shape: tuple[int, int], pixel_mm: float, seed: int
) -> Iterator[CaseArrays]:
    """Yield every case of the lumbar phantom (keyword arguments: a profile's ``phantom``
    block + ``seed``)."""
    for scan in plan_cohort(n_subjects, n_external, seed):
        yield render_scan(scan, tuple(shape), pixel_mm)
