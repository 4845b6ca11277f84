"""Lesions of the SIJ phantom: fat metaplasia (FM), erosions, sclerosis, bone-marrow oedema.

A patient's lesions are planned once (`plan_lesions`, in joint coordinates: side, bone,
``t`` along the joint, ``z`` cranio-caudal, depth below the joint surface, all in mm) and
painted on every plane (`paint_lesions`), so each lesion is coherent across slices.

What differs between the groups (every patient has FM, as in seed 004, whose exclusion
criteria removed patients without it):

* axSpA — bilateral in ~70 % (85 % of the 70 % with established disease); sacral and iliac side (or either); subchondral *bands* of
  3–12 mm depth over 10–35 mm of the joint; erosions (irregular defects of the plate
  filled with granulation tissue, never FM) in ~60 %; active oedema in ~45 % at site A.
* non-axSpA — bilateral in ~35 %; iliac-only in ~60 %; often *triangular* (depth tapering
  from the lesion's centre, osteitis condensans ilii-like) inside a larger triangle of
  sclerosis (dark on T1); smaller; erosions in ~10 %.

The groups overlap: 30 % of axSpA patients (early disease) get non-axSpA-sized lesions
and 20 % of non-axSpA patients axSpA-sized ones. Bone-marrow oedema (water) lowers the fat fraction of FM it
overlaps — the lesion stays FM in the reference but dims (seed 004, Discussion) — and
darkens marrow elsewhere. Site B's population is younger and more inflamed: more oedema,
smaller FM (``scale``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mskbench.tasks.phantoms.canvas import TissueCanvas
from mskbench.tasks.sij.anatomy import CARTILAGE_END_MM, JOINT_LENGTH_MM, Plane

FM_FF = 0.95  # fat fraction of fat metaplasia (fatty marrow replacement)


@dataclass(frozen=True)
class Patch:
    """A subchondral region: joint ``side`` (−1/+1), ``bone`` (−1 sacral, +1 iliac), centre
    ``t0`` along the joint and ``z0`` cranio-caudal, half-extents, ``depth`` (mm) below the
    joint surface, ``shape`` ``band`` or ``triangle``, ``strength`` 0–1 (oedema)."""

    side: int
    bone: int
    t0: float
    half_t: float
    z0: float
    half_z: float
    depth: float
    shape: str = "band"
    strength: float = 1.0


@dataclass(frozen=True)
class Lesions:
    fm: tuple[Patch, ...]
    erosions: tuple[Patch, ...]
    sclerosis: tuple[Patch, ...]
    oedema: tuple[Patch, ...]


def _patch(rng, side, bone, length, depth, height, shape="band", strength=1.0) -> Patch:
    return Patch(
        side=side,
        bone=bone,
        t0=float(rng.uniform(-CARTILAGE_END_MM + 4, CARTILAGE_END_MM + 2)),
        half_t=float(rng.uniform(*length) / 2),
        z0=float(rng.uniform(0.15, 0.85) * JOINT_LENGTH_MM),
        half_z=float(rng.uniform(*height) / 2),
        depth=float(rng.uniform(*depth)),
        shape=shape,
        strength=strength,
    )


def plan_lesions(rng: np.random.Generator, axspa: bool, site: str) -> Lesions:
    """Draw one patient's lesions (probabilities in the module docstring)."""
    scale = 0.75 if site == "B" else 1.0  # younger, shorter disease: smaller FM
    p_oedema = (0.45 if axspa else 0.3) + (0.3 if site == "B" else 0.0)
    # the groups overlap: early axSpA looks like non-axSpA, some non-axSpA FM is extensive
    mild = axspa and rng.random() < 0.3
    extensive = (axspa and not mild) or (not axspa and rng.random() < 0.2)
    sides = [int(rng.choice([-1, 1]))]
    if rng.random() < (0.85 if axspa and not mild else 0.35):
        sides.append(-sides[0])
    fm, erosions, sclerosis, oedema = [], [], [], []
    for side in sides:
        if axspa:
            bones = [[-1, 1], [-1], [1]][int(rng.choice(3, p=[0.5, 0.25, 0.25]))]
        else:
            bones = [[1], [-1, 1], [-1]][int(rng.choice(3, p=[0.6, 0.25, 0.15]))]
        if extensive:
            length, depth, height = (12 * scale, 36 * scale), (4.0, 12 * scale), (12, 42 * scale)
        else:
            length, depth, height = (10 * scale, 28 * scale), (4.0, 10 * scale), (10, 32 * scale)
        for bone in bones:
            for _ in range(int(rng.integers(1, 3)) if axspa else 1):
                shape = "triangle" if (not axspa and rng.random() < 0.6) else "band"
                if axspa and rng.random() < 0.15:
                    shape = "triangle"
                patch = _patch(rng, side, bone, length, depth, height, shape)
                fm.append(patch)
                if shape == "triangle" and bone == 1 and rng.random() < 0.7:
                    sclerosis.append(
                        Patch(side, 1, patch.t0, patch.half_t * 1.4, patch.z0,
                              patch.half_z * 1.2, patch.depth * 1.8, "triangle")
                    )  # fmt: skip
        if rng.random() < (0.6 if axspa else 0.1):
            for _ in range(int(rng.integers(2, 6))):
                erosions.append(
                    _patch(rng, side, int(rng.choice([-1, 1], p=[0.3, 0.7])), (3, 7), (1.5, 4),
                           (4, 10))
                )  # fmt: skip
    if rng.random() < p_oedema:
        strength = float(rng.uniform(0.4, 1.0)) * (1.2 if site == "B" else 1.0)
        for _ in range(int(rng.integers(1, 4))):
            oedema.append(
                _patch(rng, int(rng.choice([-1, 1])), int(rng.choice([-1, 1])), (10, 30),
                       (6, 20), (10, 35), "band", min(strength, 1.0))
            )  # fmt: skip
    return Lesions(tuple(fm), tuple(erosions), tuple(sclerosis), tuple(oedema))


def _sig(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def membership(
    plane: Plane, patch: Patch, z_mm: float, wobble: np.ndarray, region: np.ndarray
) -> np.ndarray:
    """Soft membership (0–1) of the pixels in ``region`` (bool) in ``patch`` on the plane
    at ``z_mm``; ``wobble`` (unit SD smooth field) makes the boundary irregular."""
    out = np.zeros(plane.t.shape, np.float32)
    zfac = float(_sig(np.array((patch.half_z - abs(z_mm - patch.z0)) / 2.0)))
    if zfac < 0.02 or plane.presence <= 0:
        return out
    sel = region & (plane.side == patch.side) & (plane.bone_side == patch.bone)
    if not sel.any():
        return out
    along = np.abs(plane.t[sel] - patch.t0)
    d = plane.depth_from_joint[sel]
    if patch.shape == "triangle":
        reach = patch.depth * np.clip(1.0 - along / max(patch.half_t, 1e-3), 0.0, 1.0)
        ends = 1.0
    else:
        reach = np.full_like(d, patch.depth)
        ends = _sig((patch.half_t - along) / 1.5)
    reach = reach * (1.0 + 0.25 * wobble[sel]) * min(1.0, plane.presence * 1.5)
    out[sel] = _sig((reach - d) / 0.5) * ends * zfac
    return out


def paint_lesions(
    lesions: Lesions,
    plane: Plane,
    z_mm: float,
    canvas: TissueCanvas,
    fields: dict[str, np.ndarray],
) -> np.ndarray:
    """Paint sclerosis, FM, erosions and oedema on the plane; return the FM membership
    (0–1) of every sub-pixel (the reference)."""
    bone = plane.sacrum | plane.ilium
    for patch in lesions.sclerosis:
        m = membership(plane, patch, z_mm, fields["fm"], bone)
        hit = m > 0.01
        canvas.fat[hit] = canvas.fat[hit] * (1 - m[hit]) + 0.02 * m[hit]
        canvas.pd[hit] = canvas.pd[hit] * (1 - m[hit]) + 0.35 * m[hit]
    fm = np.zeros(plane.t.shape, np.float32)
    for patch in lesions.fm:
        fm = np.maximum(fm, membership(plane, patch, z_mm, fields["fm"], plane.marrow))
    for patch in lesions.erosions:  # granulation tissue through the plate, never FM
        m = membership(plane, patch, z_mm, fields["texture"], bone)
        ero = m > 0.5
        canvas.paint(ero, 0.05, 0.9, 60.0, 1200.0)
        fm[ero] = 0.0
    hit = fm > 0.01
    canvas.fat[hit] = canvas.fat[hit] * (1 - fm[hit]) + FM_FF * fm[hit]
    canvas.pd[hit] = canvas.pd[hit] * (1 - fm[hit]) + 1.0 * fm[hit]
    canvas.t1[hit] = 800.0
    for patch in lesions.oedema:  # water replaces fat; FM dims but stays FM
        m = membership(plane, patch, z_mm, fields["oedema"], plane.marrow) * patch.strength
        hit = m > 0.01
        canvas.fat[hit] *= 1.0 - 0.6 * m[hit]
        canvas.t1[hit] = canvas.t1[hit] * (1 - m[hit]) + 1300.0 * m[hit]
        canvas.t2[hit] = canvas.t2[hit] * (1 - m[hit]) + 70.0 * m[hit]
    return fm
