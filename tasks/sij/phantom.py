"""The SIJ phantom: oblique-axial T1-weighted volumes of both sacroiliac joints with the
fat-metaplasia (FM) reference mask and the axSpA label of seed 004 (`tasks.sij.spec`).

One generator serves both tasks (`sij_fat_metaplasia`, `sij_axspa`): a cohort of patients
per centre (ids ``aNNN`` at centre 1 / site A, ``bNNN`` at centre 2 / site B), each patient
drawn from its own random stream, so a smaller cohort of the same seed is the first
patients of a larger one (the FM task's 103 + 20 patients are a subset of the axSpA
task's 648 + 58, as in the seed). axSpA is assigned so that every prefix of the cohort
holds the seed's share (462/648 at centre 1, 37/58 at centre 2) up to rounding.

Each slice is rendered from 3 planes across its thickness (through-plane partial volume)
at 2× in-plane resolution, averaged down (`tasks.sij.anatomy`, `tasks.sij.lesions`);
the reference is the voxels whose FM share is at least half. Signal: T1-weighted spin
echo (`mr.spin_echo_signal`), a smooth receive field (anterior and posterior coils), Rician
noise. Fat (subcutaneous, intermuscular, foraminal, in the ligamentous joint, yellow
marrow) is as bright as FM: only position, shape and context tell them apart.

Site A (centre 1): 1.5 T, TR 520 ms, TE 12 ms, 4.5 mm slices, 18–20 of them, SNR 14.
Site B (centre 2): 3 T, TR 750 ms, TE 9 ms (weaker T1 weighting: less contrast between
fat and red marrow or muscle), 6 mm slices, 16–18 of them, SNR 8, stronger bias field;
its patients are younger (less yellow marrow) and more inflamed (more oedema, smaller FM).
Units: mm, ms, years; arrays ``(z, y, x)`` with z cranial → caudal, y anterior →
posterior, x patient right → left.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mskbench.tasks.contract.writer import CaseArrays
from mskbench.tasks.phantoms import mr
from mskbench.tasks.phantoms.canvas import TissueCanvas
from mskbench.tasks.phantoms.shapes import Grid2D
from mskbench.tasks.sij.anatomy import JOINT_LENGTH_MM, Body, plan_body, render_plane
from mskbench.tasks.sij.lesions import Lesions, paint_lesions, plan_lesions

#: Bump when a change alters generated data (it is part of the phantom fingerprint).
VERSION = 1
SUPERSAMPLE = 2
SUBSLICES = 3
#: Seed 004: axSpA / all patients per centre (centre 1 = site A, centre 2 = site B).
PREVALENCE = {"A": (462, 648), "B": (37, 58)}

SITE_A = mr.Site(
    "A", 1.5, 520.0, 12.0, 1000.0, 32.0, 260.0, 165.0, snr=14.0, bias=0.35,
    intensity_scale=600.0,
)  # fmt: skip
SITE_B = mr.Site(
    "B", 3.0, 750.0, 9.0, 1400.0, 29.0, 370.0, 135.0, snr=8.0, bias=0.55,
    intensity_scale=350.0,
)  # fmt: skip
SITES = {"A": SITE_A, "B": SITE_B}
SLICE_MM = {"A": 4.5, "B": 6.0}
SLICES = {"A": (18, 20), "B": (16, 18)}  # inclusive range of slices per volume
AGE = {"A": (27.0, 6.0), "B": (23.0, 6.5)}  # years, mean and SD (seed Table 1 medians)


@dataclass(frozen=True)
class PatientPlan:
    """One patient: identity, anatomy, lesions and scan geometry."""

    case_id: str
    site: str
    axspa: bool
    sex: str
    body: Body
    lesions: Lesions
    n_slices: int
    z_start_mm: float  # z of the first slice's centre (joint from 0 to JOINT_LENGTH_MM)
    rotation: float
    shift: tuple[float, float]
    seed: tuple[int, ...]


def is_axspa(index: int, share: float, phase: float) -> bool:
    """Patient ``index`` has axSpA: a Bresenham sequence, so every prefix of the cohort
    holds ``share`` of axSpA patients up to rounding; ``phase`` shifts it per seed."""
    return int(np.floor((index + 1) * share + phase)) > int(np.floor(index * share + phase))


def plan_patient(seed: int, site: str, index: int) -> PatientPlan:
    """Patient ``index`` (0-based) of ``site``; depends on nothing but its arguments."""
    positives, total = PREVALENCE[site]
    phase = float(np.random.default_rng((seed, 4, ord(site))).uniform(0, 1))
    axspa = is_axspa(index, positives / total, phase)
    rng = np.random.default_rng((seed, 4, ord(site), index))
    mean, sd = AGE[site]
    age = float(np.clip(rng.normal(mean, sd), 16.0, 45.0))  # seed: age > 45 excluded
    body = plan_body(rng, age)
    lesions = plan_lesions(rng, axspa, site)
    lo, hi = SLICES[site]
    n_slices = int(rng.integers(lo, hi + 1))
    coverage = (n_slices - 1) * SLICE_MM[site]
    z_start = (JOINT_LENGTH_MM - coverage) / 2 + float(rng.normal(0, 3.0))
    return PatientPlan(
        case_id=f"{site.lower()}{index + 1:03d}",
        site=site,
        axspa=axspa,
        sex="M" if rng.random() < 0.73 else "F",  # seed: 73.5 % men
        body=body,
        lesions=lesions,
        n_slices=n_slices,
        z_start_mm=z_start,
        rotation=float(rng.normal(0, np.deg2rad(3.0))),
        shift=(float(rng.normal(0, 5.0)), float(rng.normal(-12.0, 4.0))),
        seed=(seed, 4, ord(site), index, 1),
    )


def plan_cohort(n_subjects: int, n_external: int, seed: int) -> list[PatientPlan]:
    """``n_subjects`` centre-1 (site A) and ``n_external`` centre-2 (site B) patients."""
    return [plan_patient(seed, "A", i) for i in range(n_subjects)] + [
        plan_patient(seed, "B", i) for i in range(n_external)
    ]


def _fields(rng: np.random.Generator, shape: tuple[int, int, int], pixel_mm: float, slice_mm):
    """Unit-SD smooth random fields on the output grid, correlation lengths in mm."""
    lengths = {"marrow": 4.0, "texture": 1.0, "septa": 3.0, "bowel": 6.0, "fm": 4.0,
               "oedema": 6.0}  # fmt: skip
    return {
        name: mr.smooth_noise(rng, shape, (max(mm / slice_mm, 0.3), mm / pixel_mm, mm / pixel_mm))
        for name, mm in lengths.items()
    }


def _fine(field: np.ndarray) -> np.ndarray:
    return ndimage.zoom(field, SUPERSAMPLE, order=1, mode="grid-wrap", grid_mode=True)


def render_volume(
    plan: PatientPlan, shape: tuple[int, int], pixel_mm: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(signal, fm share, fat fraction)`` of one patient, each ``(z, y, x)`` on the output
    grid; signal is relative to healthy muscle (1.0), before bias and noise."""
    site = SITES[plan.site]
    rng = np.random.default_rng(plan.seed)
    slice_mm = SLICE_MM[plan.site]
    vol_shape = (plan.n_slices, *shape)
    fields = _fields(rng, vol_shape, pixel_mm, slice_mm)
    fine = (shape[0] * SUPERSAMPLE, shape[1] * SUPERSAMPLE)
    grid = Grid2D(fine, pixel_mm / SUPERSAMPLE, plan.rotation, plan.shift)
    signal = np.zeros(vol_shape, np.float32)
    fm = np.zeros(vol_shape, np.float32)
    fat = np.zeros(vol_shape, np.float32)
    t1_scale = site.t1_muscle_ms / SITE_A.t1_muscle_ms
    t2_scale = site.t2_muscle_ms / SITE_A.t2_muscle_ms
    for k in range(plan.n_slices):
        slice_fields = {name: _fine(f[k]) for name, f in fields.items()}
        for j in range(SUBSLICES):
            z_mm = plan.z_start_mm + (k + (j + 0.5) / SUBSLICES - 0.5) * slice_mm
            canvas = TissueCanvas.blank(fine, 1000.0, 32.0)
            plane = render_plane(plan.body, z_mm, grid, canvas, slice_fields)
            share = paint_lesions(plan.lesions, plane, z_mm, canvas, slice_fields)
            s = mr.spin_echo_signal(
                site, canvas.pd, canvas.fat, canvas.t1 * t1_scale, canvas.t2 * t2_scale
            )
            signal[k] += mr.block_mean(s, SUPERSAMPLE) / SUBSLICES
            fm[k] += mr.block_mean(share, SUPERSAMPLE) / SUBSLICES
            fat[k] += mr.block_mean(canvas.fat, SUPERSAMPLE) / SUBSLICES
    return signal, fm, fat


def render_patient(plan: PatientPlan, shape: tuple[int, int], pixel_mm: float) -> CaseArrays:
    """Image, FM reference and cases.csv row of one patient (see the module docstring)."""
    site = SITES[plan.site]
    signal, fm, _ = render_volume(plan, shape, pixel_mm)
    rng = np.random.default_rng((*plan.seed, 2))
    image = signal * mr.bias_field(rng, signal.shape, site.bias)
    image = mr.rician(rng, image, 1.0 / site.snr) * site.intensity_scale
    image = np.clip(np.round(image), 0, 32767).astype(np.int16)
    row = {
        "subject_id": plan.case_id,
        "site": plan.site,
        "age": round(plan.body.age, 1),
        "sex": plan.sex,
        "axspa": "1" if plan.axspa else "0",
    }
    return CaseArrays(
        case_id=plan.case_id,
        image=image[None],
        label=(fm >= 0.5).astype(np.uint8),
        spacing=(SLICE_MM[plan.site], float(pixel_mm), float(pixel_mm)),
        row=row,
    )


def n_cases(*, n_subjects: int, n_external: int, **_: object) -> int:
    """One volume per patient."""
    return n_subjects + n_external


def generate(
    *, n_subjects: int, n_external: int, shape: tuple[int, int], pixel_mm: float, seed: int
) -> Iterator[CaseArrays]:
    """Yield every case of the SIJ phantom (keyword arguments: a profile's ``phantom``
    block + ``seed``)."""
    for plan in plan_cohort(n_subjects, n_external, seed):
        yield render_patient(plan, tuple(shape), pixel_mm)
