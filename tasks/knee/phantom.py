"""The knee phantom: one latent 3D knee per exam rendered as MRNet's three 2D multislice
stacks, written in the public MRNet layout (`mskbench.tasks.contract.mrnet`).

1. cohort (`tasks.knee.cohort`): labels at MRNet's rates (the test set at the seed's
   composition), findings that follow them, confounders, left and right knees;
2. anatomy (`tasks.knee.anatomy`): a tissue-class volume on a latent isotropic grid of
   ``voxel_mm`` over a 160 mm cube, the knee posed with a random flexion/rotation (±6°)
   and shift (±6 mm), mirrored for a left knee;
3. contrast per plane (`SEQUENCES`): sagittal T2-weighted fat-suppressed (fluid bright,
   fat and marrow dark), coronal T1-weighted (fat and marrow bright, fluid dark), axial
   proton-density fat-suppressed; tissue signals jittered ±10 % per exam; site B, the
   external one, scans sagittal PD fat-suppressed and axial T2 fat-suppressed instead,
   with thicker slices (4.5 vs 3-3.5 mm) and lower SNR;
4. acquisition: a smooth receive (bias) field, thick slices — the signal averaged over
   the slice thickness (partial volume) — sampled at 256 × 256 over a 160 mm field of view,
   a mild in-plane blur, Rician noise;
5. histogram standardisation to uint8 (piecewise-linear between percentiles of the stack's
   body intensities and fixed landmarks, `PERCENTILES` → `LANDMARKS`, as MRNet's exams were
   standardised).

Slices per plane are drawn uniformly from ``slices`` (MRNet: 17-61). Deterministic for a
seed. Units: mm; arrays ``(slices, rows, columns)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from mskbench.tasks.contract.mrnet import EXTERNAL, SPLIT_COLUMN, TRAIN, VALID
from mskbench.tasks.contract.writer import CaseArrays
from mskbench.tasks.knee.anatomy import Tissue, knee_volume
from mskbench.tasks.knee.cohort import ExamPlan, plan_exams
from mskbench.tasks.phantoms import mr

#: Bump when a change alters generated data (it is part of the phantom fingerprint).
VERSION = 2  # 2: joint fluid overlaps normal/abnormal; subtler other findings
FOV_MM = 160.0
MATRIX = 256
_TAG = 1  # separates this phantom's random streams from other tasks'


@dataclass(frozen=True)
class Sequence:
    """One plane's acquisition: ``axis`` of the latent volume the slices cut (0 u, 1 v,
    2 w), relative ``signal`` per `Tissue`, slice thickness and gap (mm), SNR (muscle
    signal over noise SD)."""

    plane: str
    axis: int
    signal: dict[Tissue, float]
    thickness_mm: float
    gap_mm: float
    snr: float


def _signals(fat: float, marrow: float, fluid: float, cart: float, muscle: float,
             oedema: float, degen: float, torn: float, vessel: float) -> dict[Tissue, float]:  # fmt: skip
    return {Tissue.AIR: 0.0, Tissue.FAT: fat, Tissue.MUSCLE: muscle, Tissue.MARROW: marrow,
            Tissue.CORTEX: 0.03, Tissue.CARTILAGE: cart, Tissue.MENISCUS: 0.05,
            Tissue.LIGAMENT: 0.07, Tissue.FLUID: fluid, Tissue.ARTERY: 0.04, Tissue.VEIN: vessel,
            Tissue.OEDEMA: oedema, Tissue.DEGENERATION: degen,
            Tissue.TORN_LIGAMENT: torn}  # fmt: skip


T2_FS = _signals(0.10, 0.12, 1.00, 0.42, 0.28, 0.62, 0.22, 0.60, 0.55)
PD_FS = _signals(0.14, 0.15, 0.90, 0.62, 0.36, 0.60, 0.34, 0.62, 0.60)
T1 = _signals(1.00, 0.90, 0.22, 0.45, 0.38, 0.42, 0.16, 0.30, 0.30)

#: Site A (MRNet-like) and site B (external: other contrast, thicker slices, lower SNR).
SEQUENCES = {
    "A": (Sequence("sagittal", 2, T2_FS, 3.0, 0.5, 22.0), Sequence("coronal", 1, T1, 3.0, 0.5, 26.0),
          Sequence("axial", 0, PD_FS, 3.5, 0.5, 24.0)),
    "B": (Sequence("sagittal", 2, PD_FS, 4.5, 0.5, 15.0), Sequence("coronal", 1, T1, 4.5, 0.5, 18.0),
          Sequence("axial", 0, T2_FS, 4.5, 0.5, 15.0)),
}  # fmt: skip
#: Percentiles of the body's intensities and the standard-scale (uint8) values they map to.
PERCENTILES = (1.0, 10.0, 30.0, 50.0, 70.0, 90.0, 99.5)
LANDMARKS = (8.0, 30.0, 60.0, 90.0, 125.0, 180.0, 235.0)


def _latent_axes(voxel_mm: float) -> np.ndarray:
    n = round(FOV_MM / voxel_mm)
    return ((np.arange(n) + 0.5) * voxel_mm - FOV_MM / 2).astype(np.float32)


def posed_coordinates(
    voxel_mm: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Knee coordinates ``(u, v, w)`` (mm) of each latent voxel: a random rotation within
    ±6° about each axis and a shift within ±6 mm."""
    x = _latent_axes(voxel_mm)
    grid = np.stack(np.meshgrid(x, x, x, indexing="ij"), axis=-1).reshape(-1, 3)
    pose = Rotation.from_euler("xyz", rng.uniform(-6, 6, 3), degrees=True).as_matrix()
    points = (grid - rng.uniform(-6, 6, 3).astype(np.float32)) @ pose.astype(np.float32)
    u, v, w = (points[:, i].reshape(len(x), len(x), len(x)) for i in range(3))
    return u, v, w


def latent_tissues(plan: ExamPlan, voxel_mm: float, rng: np.random.Generator) -> np.ndarray:
    """The exam's tissue volume on the latent grid, posed and (left knee) mirrored in w."""
    u, v, w = posed_coordinates(voxel_mm, rng)
    return knee_volume(u, v, -w if plan.left else w, plan.shape, plan.findings)


def render_plane(
    tissues: np.ndarray,
    sequence: Sequence,
    n_slices: int,
    voxel_mm: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """One plane's stack ``(n_slices, 256, 256)`` uint8 (see the module docstring)."""
    jitter = {t: s * rng.uniform(0.9, 1.1) for t, s in sequence.signal.items()}
    lookup = np.array([jitter[Tissue(i)] for i in range(len(Tissue))], np.float32)
    signal = lookup[tissues] * mr.bias_field(rng, tissues.shape, 0.35)
    sigma = sequence.thickness_mm / 2.355 / voxel_mm  # through-slice profile (FWHM = thickness)
    signal = ndimage.gaussian_filter1d(signal, sigma, axis=sequence.axis, mode="constant")
    spacing = sequence.thickness_mm + sequence.gap_mm
    centre = rng.uniform(-3, 3)
    positions = centre + (np.arange(n_slices) - (n_slices - 1) / 2) * spacing
    pixel = (np.arange(MATRIX) + 0.5) * FOV_MM / MATRIX - FOV_MM / 2
    to_index = lambda mm: (mm + FOV_MM / 2) / voxel_mm - 0.5  # noqa: E731
    rows, cols = np.meshgrid(to_index(pixel), to_index(pixel), indexing="ij")
    in_plane = [a for a in range(3) if a != sequence.axis]
    stack = np.empty((n_slices, MATRIX, MATRIX), np.float32)
    for i, position in enumerate(positions):
        coords = [None, None, None]
        coords[sequence.axis] = np.full_like(rows, to_index(position))
        coords[in_plane[0]], coords[in_plane[1]] = rows, cols
        stack[i] = ndimage.map_coordinates(signal, coords, order=1, mode="constant")
    stack = ndimage.gaussian_filter(stack, (0, 0.6, 0.6))
    noise = (
        float(np.percentile(stack[stack > 0.05], 50)) / sequence.snr
        if (stack > 0.05).any()
        else 0.01
    )
    return standardise(mr.rician(rng, stack, noise))


def standardise(stack: np.ndarray) -> np.ndarray:
    """Piecewise-linear histogram standardisation to uint8 (see the module docstring)."""
    body = stack[stack > np.percentile(stack, 60) * 0.5]
    body = body if body.size else stack.ravel()
    marks = np.percentile(body, PERCENTILES)
    marks = np.maximum.accumulate(marks + np.arange(len(marks)) * 1e-6)
    out = np.interp(stack, marks, LANDMARKS, left=0.0, right=255.0)
    low = stack < marks[0]
    out[low] = stack[low] / max(marks[0], 1e-6) * LANDMARKS[0]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def n_cases(n_train: int, n_valid: int, n_external: int, **_: object) -> int:
    """How many exams a profile writes (for progress bars)."""
    return n_train + n_valid + n_external


def generate(
    n_train: int,
    n_valid: int,
    n_external: int,
    slices: tuple[int, int],
    voxel_mm: float = 1.25,
    seed: int = 0,
) -> Iterator[CaseArrays]:
    """The exams in MRNet's numbering: train ``0000``…, then valid, then external; each
    `CaseArrays` holds the sagittal stack as ``image`` (``(1, slices, 256, 256)`` uint8),
    coronal and axial in ``other_series``, its labels and its MRNet split in ``row``."""
    rng = np.random.default_rng([seed, _TAG])
    groups = ((TRAIN, n_train, False, "A"), (VALID, n_valid, True, "A"),
              (EXTERNAL, n_external, False, "B"))  # fmt: skip
    index = 0
    for split, n, test, site in groups:
        for plan in plan_exams(n, test, rng):
            exam_rng = np.random.default_rng([seed, _TAG, index])
            tissues = latent_tissues(plan, voxel_mm, exam_rng)
            stacks = {}
            for sequence in SEQUENCES[site]:
                count = int(exam_rng.integers(slices[0], slices[1] + 1))
                stacks[sequence.plane] = render_plane(tissues, sequence, count, voxel_mm, exam_rng)[
                    None
                ]
            row = {"subject_id": f"{index:04d}", "site": site, SPLIT_COLUMN: split,
                   "abnormal": str(plan.abnormal), "acl": str(plan.acl),
                   "meniscus": str(plan.meniscus)}  # fmt: skip
            yield CaseArrays(
                case_id=f"{index:04d}",
                image=stacks["sagittal"],
                label=None,
                spacing=(1.0, 1.0, 1.0),
                row=row,
                other_series={p: (stacks[p], (1.0, 1.0, 1.0)) for p in ("coronal", "axial")},
            )
            index += 1
