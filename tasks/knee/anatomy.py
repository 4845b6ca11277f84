"""The latent 3D knee of one exam: a tissue-class volume drawn from analytic shapes.

Coordinates in mm, right knee, joint line at the origin: ``u`` superior → inferior,
``v`` anterior → posterior, ``w`` medial → lateral (a left knee is mirrored in ``w`` by
the caller's sampling grid). Shapes are painted in anatomical order, later ones over
earlier ones, so each voxel holds one `Tissue`.

Normal anatomy: the distal femur with medial and lateral condyles and the intercondylar
notch, the tibial plateau and shaft, the fibular head, the patella; fatty marrow inside a
dark cortex; hyaline cartilage on the condyles, the plateau and the patellar facet;
wedge-shaped menisci (C-shaped medial, near-O lateral), thickest at the periphery; the
oblique ACL (lateral condyle's inner wall → anterior intercondylar area) and the PCL
(medial condyle → posterior tibia); medial and lateral collateral ligaments; quadriceps
and patellar tendons; Hoffa's fat pad; the suprapatellar and posterior joint recesses
(a trace of fluid); vastus and gastrocnemius muscles, subcutaneous and popliteal fat, the
popliteal artery and vein.

Findings (`Findings`): ACL tear (a gap of oedematous, fluid-bright tissue in the
mid-substance, a lax distal stump), meniscal tear (a fluid-filled plane reaching an
articular surface), intrasubstance meniscal degeneration (a blob of intermediate signal
that does not reach a surface — the confounder), effusion (recesses distended), marrow
oedema / bone bruises, a focal cartilage defect, a Baker's cyst.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Tissue(IntEnum):
    """Tissue classes of the latent volume (their MR signal: `tasks.knee.phantom`)."""

    AIR = 0
    FAT = 1
    MUSCLE = 2
    MARROW = 3
    CORTEX = 4
    CARTILAGE = 5
    MENISCUS = 6
    LIGAMENT = 7
    FLUID = 8
    ARTERY = 9
    VEIN = 10
    OEDEMA = 11
    DEGENERATION = 12
    TORN_LIGAMENT = 13


@dataclass(frozen=True)
class MeniscalTear:
    """A tear plane in one meniscus: ``side`` medial/lateral, ``horn`` posterior, body or
    anterior, ``surface`` the articular surface it reaches (superior −1 / inferior +1),
    ``tilt`` the plane's angle from horizontal (rad), ``length_mm`` its extent."""

    side: str
    horn: str
    surface: int
    tilt: float
    length_mm: float


@dataclass(frozen=True)
class Findings:
    """What one knee holds beyond normal anatomy (see the module docstring)."""

    acl_tear: bool = False
    tears: tuple[MeniscalTear, ...] = ()
    degeneration: tuple[str, ...] = ()  # menisci ("medial"/"lateral") with intrasubstance signal
    effusion: float = 0.0  # 0 trace … 1 large
    bruises: tuple[tuple[float, float, float, float], ...] = ()  # (u, v, w, radius mm)
    cartilage_defect: bool = False
    baker_cyst: float = 0.0  # radius mm, 0: none


@dataclass(frozen=True)
class Shape:
    """Per-exam size and pose of the knee: ``scale`` (1 = average adult), ``notch_mm``
    the notch half-width, ``meniscus_mm`` the peripheral meniscal height, ``limb_mm`` the
    limb radius, ``fat_mm`` the subcutaneous fat thickness."""

    scale: float = 1.0
    notch_mm: float = 8.0
    meniscus_mm: float = 6.0
    limb_mm: float = 60.0
    fat_mm: float = 8.0


def _ellipsoid(u, v, w, centre, radii) -> np.ndarray:
    """Normalised ellipsoid distance (< 1 inside)."""
    return (
        ((u - centre[0]) / radii[0]) ** 2
        + ((v - centre[1]) / radii[1]) ** 2
        + ((w - centre[2]) / radii[2]) ** 2
    )


def _segment_distance(u, v, w, p0, p1) -> tuple[np.ndarray, np.ndarray]:
    """Distance (mm) of each point to the segment p0 → p1, and the position t in [0, 1]."""
    d = np.subtract(p1, p0, dtype=np.float32)
    length2 = float(d @ d)
    t = ((u - p0[0]) * d[0] + (v - p0[1]) * d[1] + (w - p0[2]) * d[2]) / length2
    t = np.clip(t, 0.0, 1.0)
    du, dv, dw = u - (p0[0] + t * d[0]), v - (p0[1] + t * d[1]), w - (p0[2] + t * d[2])
    return np.sqrt(du * du + dv * dv + dw * dw), t


def _condyles(u, v, w, s: Shape) -> tuple[np.ndarray, np.ndarray]:
    """Femur (bool) and the signed 'depth' used for its cartilage shell (< 1 inside)."""
    k = s.scale
    medial = _ellipsoid(u, v, w, (-20 * k, 6 * k, -21 * k), (21 * k, 27 * k, 17 * k))
    lateral = _ellipsoid(u, v, w, (-21 * k, 5 * k, 21 * k), (20 * k, 26 * k, 16 * k))
    metaphysis = _ellipsoid(u, v, w, (-42 * k, 2 * k, 0), (30 * k, 22 * k, 40 * k))
    shaft = ((v - 4 * k) ** 2 + w**2 < (15 * k) ** 2) & (u < -40 * k)
    depth = np.minimum(np.minimum(medial, lateral), metaphysis)
    notch = (np.abs(w) < s.notch_mm * k) & (v > -2 * k) & (u > -32 * k)
    return ((depth < 1) | shaft) & ~notch, depth


def knee_volume(u: np.ndarray, v: np.ndarray, w: np.ndarray, s: Shape, f: Findings) -> np.ndarray:
    """The `Tissue` of each point ``(u, v, w)`` (mm, float32 arrays of one shape)."""
    k = s.scale
    out = np.full(u.shape, Tissue.AIR, np.uint8)
    radial = np.sqrt((v - 5 * k) ** 2 + w**2)
    limb = radial < s.limb_mm * k
    out[limb] = Tissue.FAT
    muscle = limb & (radial < (s.limb_mm - s.fat_mm) * k)
    # muscles fill the limb inside the subcutaneous fat (vastus above, gastrocnemius heads,
    # semimembranosus and biceps around the joint, calf below), except the popliteal fossa
    # (fat around the vessels) and the front of the joint (tendons, retinacula, fat)
    fossa = (v > 14 * k) & (np.abs(w - 3 * k) < 11 * k) & (np.abs(u) < 45 * k)
    front = (v < -12 * k) & (u > -50 * k) & (u < 40 * k)
    out[muscle & ~fossa & ~front] = Tissue.MUSCLE
    # popliteal vessels in the popliteal fat
    artery, _ = _segment_distance(u, v, w, (-80 * k, 30 * k, 2 * k), (80 * k, 28 * k, 0))
    vein, _ = _segment_distance(u, v, w, (-80 * k, 34 * k, 7 * k), (80 * k, 33 * k, 6 * k))
    out[limb & (vein < 4.5 * k)] = Tissue.VEIN
    out[limb & (artery < 3.2 * k)] = Tissue.ARTERY
    # joint recesses: a trace of fluid, distended by an effusion
    recess = 1.0 + 6.0 * f.effusion
    supra = (u > -75 * k) & (u < -28 * k) & (np.abs(w) < 28 * k)
    supra &= np.abs(v - (-27 * k + 2.0 * (u + 50 * k) / 50)) < recess * k
    posterior = _ellipsoid(u, v, w, (-8 * k, 26 * k, 0), (14 * k, 2.5 * recess * k, 30 * k)) < 1
    out[supra | (posterior & (f.effusion > 0.3))] = Tissue.FLUID
    if f.baker_cyst > 0:
        cyst = _ellipsoid(u, v, w, (-5 * k, 30 * k, -22 * k),
                          (f.baker_cyst * 1.6 * k, f.baker_cyst * k, f.baker_cyst * 0.8 * k))  # fmt: skip
        out[cyst < 1] = Tissue.FLUID
    # Hoffa's fat pad behind the patellar tendon
    out[_ellipsoid(u, v, w, (2 * k, -22 * k, 0), (14 * k, 9 * k, 22 * k)) < 1] = Tissue.FAT
    # bones: femur, tibia, fibula, patella (cortex rim, fatty marrow)
    femur, fdepth = _condyles(u, v, w, s)
    tibia_d = _ellipsoid(u, v, w, (22 * k, 6 * k, 0), (19 * k, 26 * k, 39 * k))
    tibia = (tibia_d < 1) & (u > 3.5 * k)
    tibia |= ((v - 8 * k) ** 2 + w**2 < (17 * k) ** 2) & (u > 25 * k)
    fibula = _ellipsoid(u, v, w, (28 * k, 16 * k, 36 * k), (10 * k, 8 * k, 8 * k)) < 1
    patella_d = _ellipsoid(u, v, w, (-30 * k, -34 * k, 2 * k), (20 * k, 9 * k, 21 * k))
    patella = patella_d < 1
    cartilage = (fdepth < 1.16) & ~femur & (u > -34 * k) & (np.abs(w) > s.notch_mm * k)
    cartilage |= (tibia_d < 1.12) & (u > 1.5 * k) & (u <= 3.5 * k) & (np.abs(w) > 5 * k)
    cartilage |= (patella_d < 1.35) & ~patella & (v > -34 * k)
    out[cartilage] = Tissue.CARTILAGE
    bone = femur | tibia | fibula | patella
    out[bone] = Tissue.CORTEX
    inner = (femur & (fdepth < 0.88)) | (tibia & (tibia_d < 0.86) & (u > 6 * k))
    inner |= fibula & (_ellipsoid(u, v, w, (28 * k, 16 * k, 36 * k), (8 * k, 6 * k, 6 * k)) < 1)
    inner |= patella_d < 0.7
    inner |= ((v - 4 * k) ** 2 + w**2 < (12.5 * k) ** 2) & (u < -40 * k)
    inner |= ((v - 8 * k) ** 2 + w**2 < (14.5 * k) ** 2) & (u > 28 * k)
    out[inner & bone] = Tissue.MARROW
    for bu, bv, bw, radius in f.bruises:
        bruise = _ellipsoid(u, v, w, (bu * k, bv * k, bw * k), (radius * k,) * 3) < 1
        out[bruise & inner & bone] = Tissue.OEDEMA
    if f.cartilage_defect:
        defect = _ellipsoid(u, v, w, (-0.5 * k, 4 * k, -21 * k), (4 * k, 5 * k, 4 * k)) < 1
        out[defect & (out == Tissue.CARTILAGE)] = Tissue.FLUID
    _menisci(out, u, v, w, s, f)
    _ligaments(out, u, v, w, s, f)
    return out


#: Meniscus centres (v, w) in mm and their inner / outer radii: medial C, lateral near-O.
_MENISCI = {"medial": (6.0, -21.0, 9.0, 19.0), "lateral": (5.0, 21.0, 7.0, 16.0)}
_HORN_ANGLE = {"posterior": np.pi / 2, "body": 0.0, "anterior": -np.pi / 2}


def _menisci(out, u, v, w, s: Shape, f: Findings) -> None:
    """Paint both menisci, their degeneration and tears (fluid-filled planes)."""
    k = s.scale
    for side, (cv, cw, r_in, r_out) in _MENISCI.items():
        dv, dw = v - cv * k, w - cw * k
        r = np.sqrt(dv * dv + dw * dw) / k
        angle = np.arctan2(dv, np.sign(cw) * dw)  # 0 at the periphery side, +π/2 posterior
        height = s.meniscus_mm * np.clip((r - r_in) / (r_out - r_in), 0, 1)
        wedge = (r > r_in) & (r < r_out) & (np.abs(u - 1.0 * k) < height * k / 2)
        if side == "medial":  # C-shaped: open towards the notch, anterior horn thinner
            wedge &= ~((np.abs(angle) > 2.6) & (r < r_in + 5))
        out[wedge] = Tissue.MENISCUS
        if side in f.degeneration:
            mid = (r_in + 0.65 * (r_out - r_in)) * k
            blob = _ellipsoid(u, dv, dw, (1.0 * k, mid * 0.9, -mid * 0.3 * np.sign(cw)),
                              (2.0 * k, 7 * k, 7 * k))  # fmt: skip
            inner = wedge & (np.abs(u - 1.0 * k) < height * k / 2 - 1.5)
            inner &= (r > r_in + 3.0) & (r < r_out - 2.0)  # never reaches a surface
            out[(blob < 1) & inner] = Tissue.DEGENERATION
        for tear in f.tears:
            if tear.side != side:
                continue
            centre = _HORN_ANGLE[tear.horn]
            arc = np.abs(np.angle(np.exp(1j * (angle - centre)))) * (r_in + r_out) / 2
            # the plane rises from the mid-height line towards the chosen surface
            level = 1.0 * k + tear.surface * np.tan(tear.tilt) * (r - (r_in + r_out) / 2) * k
            plane = (np.abs(u - level) < 0.7) & (arc < tear.length_mm / 2) & wedge
            surface_cut = (arc < tear.length_mm / 2) & wedge & (r > (r_in + r_out) / 2)
            surface_cut &= tear.surface * (u - 1.0 * k) > height * k / 2 - 1.5
            out[plane | (surface_cut & (np.abs(r - (r_in + r_out) / 2 - 2) < 1.0))] = Tissue.FLUID


def _ligaments(out, u, v, w, s: Shape, f: Findings) -> None:
    """Cruciate and collateral ligaments, quadriceps and patellar tendons."""
    k = s.scale
    p = lambda a, b, c: (a * k, b * k, c * k)  # noqa: E731
    acl, t = _segment_distance(u, v, w, p(-14, 16, 6), p(2, -8, -1))
    pcl, _ = _segment_distance(u, v, w, p(-17, -2, -6), p(8, 24, 0))
    out[pcl < 4.5 * k] = Tissue.LIGAMENT
    if f.acl_tear:  # mid-substance gap of oedematous tissue, the distal stump lax
        out[(acl < 4.5 * k) & (t < 0.35)] = Tissue.LIGAMENT
        out[(acl < 6.0 * k) & (t >= 0.35) & (t < 0.7)] = Tissue.TORN_LIGAMENT
        stump, _ = _segment_distance(u, v, w, p(-2, 2, 1), p(2, -8, -1))
        out[stump < 3.5 * k] = Tissue.LIGAMENT
    else:
        out[acl < 4.0 * k] = Tissue.LIGAMENT
    mcl = (
        (np.abs(w + 40 * k) < 1.6 * k) & (u > -40 * k) & (u < 45 * k) & (np.abs(v - 3 * k) < 9 * k)
    )
    lcl, _ = _segment_distance(u, v, w, p(-16, 6, 39), p(24, 14, 42))
    quad = (u < -47 * k) & (u > -95 * k) & (np.abs(v + 40 * k) < 3.5 * k) & (np.abs(w) < 17 * k)
    patellar, _ = _segment_distance(u, v, w, p(-12, -40, 2), p(36, -26, 0))
    ribbon = (patellar < 12 * k) & (np.abs(v - (-40 + (u / k + 12) * 14 / 48) * k) < 2.8 * k)
    out[mcl | (lcl < 2.6 * k) | quad | ribbon] = Tissue.LIGAMENT
