"""Anatomy of the SIJ phantom: one patient's plan and the tissue of one oblique-axial plane.

Body frame (mm): ``u`` patient right → left (x), ``v`` anterior → posterior (y), ``z``
cranial → caudal along the joint (0 at its cranial end, `JOINT_LENGTH_MM` at its caudal
end). Each sacroiliac joint is described in its own frame: ``t`` along the joint surface
(anterior → posterior) and ``n`` across it (positive towards the ilium); the cleft is the
band ``|n| < width / 2``, cartilaginous over ``t ≤ CARTILAGE_END_MM`` and ligamentous
(wider, interosseous ligaments in fat) behind it.

`render_plane` paints one supersampled plane on a `TissueCanvas` (fat fraction 0–1, proton
density relative to muscle, water T1/T2 in ms at 1.5 T) and returns the fat-metaplasia
membership (0–1) of every sub-pixel: sacrum (body, ala, canal, foramina with fat and nerve
roots), ilia (joint body and wing), cortical and subchondral plates, red marrow with yellow
islands (more with age), the joint cleft, iliacus, psoas, piriformis, glutei and the
multifidus over the sacrum with fat septa between them, pelvic fat, bowel and vessels, and
subcutaneous fat. The lesions (fat metaplasia, erosions, sclerosis, bone-marrow oedema)
are planned in `tasks.sij.lesions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mskbench.tasks.phantoms.canvas import TissueCanvas
from mskbench.tasks.phantoms.shapes import FAR, Blob, Competition, Grid2D

#: Cranio-caudal extent of the joint's auricular surface in the oblique-axial stack (mm).
JOINT_LENGTH_MM = 70.0
#: Half-length (mm) of the cartilaginous part along ``t`` (it spans −this … +this).
CARTILAGE_END_MM = 17.0
#: Length (mm) of the ligamentous part behind it.
LIGAMENT_MM = 14.0
ADIPOSE_FF = 0.93
MUSCLE_T1_MS = 1000.0  # water T1 of muscle at 1.5 T
MARROW_T1_MS = 800.0
MUSCLES = ("iliacus", "psoas", "piriformis", "gluteus_medius", "gluteus_maximus", "multifidus")


@dataclass(frozen=True)
class Body:
    """Per-patient anatomy (mm); ages in years."""

    age: float
    sacrum_half_width: float  # at the joint's centre
    sacrum_depth: float
    joint_angle: float  # rad between the joint and the v axis (posterior end medial)
    cleft_mm: float
    subcutaneous_mm: float
    septum_mm: float
    yellow_share: float  # share of marrow that is yellow (fatty), rises with age
    red_marrow_ff: float
    foramen_phase: float
    muscle_scale: float


def plan_body(rng: np.random.Generator, age: float) -> Body:
    """Draw one patient's anatomy; yellow marrow grows with age (≈ 6 % at 20, 22 % at 45)."""
    return Body(
        age=age,
        sacrum_half_width=float(rng.normal(47.0, 3.5)),
        sacrum_depth=float(rng.normal(44.0, 4.0)),
        joint_angle=float(rng.normal(np.deg2rad(20.0), np.deg2rad(4.0))),
        cleft_mm=float(rng.uniform(1.8, 3.0)),
        subcutaneous_mm=float(rng.uniform(8.0, 35.0)),
        septum_mm=float(rng.uniform(0.6, 1.6)),
        yellow_share=float(np.clip(0.06 + 0.0065 * (age - 20.0) + rng.normal(0, 0.03), 0.02, 0.35)),
        red_marrow_ff=float(np.clip(rng.normal(0.42 + 0.004 * (age - 25.0), 0.05), 0.25, 0.6)),
        foramen_phase=float(rng.uniform(0, 1)),
        muscle_scale=float(rng.normal(1.0, 0.08)),
    )


@dataclass(frozen=True)
class JointFrame:
    """One joint's frame in a plane: centre (mm), unit vectors along (``et``) and across
    (``en``, towards the ilium), and the cleft's half-width (mm)."""

    side: int  # −1 right (u < 0), +1 left
    cu: float
    cv: float
    et: tuple[float, float]
    en: tuple[float, float]

    def coordinates(self, grid: Grid2D) -> tuple[np.ndarray, np.ndarray]:
        """``(t, n)`` of every pixel; ``n`` is bowed slightly (the auricular surface is
        curved) so the cleft is not a straight line."""
        du, dv = grid.u - self.cu, grid.v - self.cv
        t = du * self.et[0] + dv * self.et[1]
        n = du * self.en[0] + dv * self.en[1]
        return t, n - 0.012 * t * t


def joint_presence(z_mm: float) -> float:
    """0–1: how much of the auricular surface a plane at ``z_mm`` cuts (tapers at the ends)."""
    x = z_mm / JOINT_LENGTH_MM
    return float(np.clip(min(x, 1.0 - x) / 0.12, 0.0, 1.0))


def joint_frame(body: Body, side: int, z_mm: float) -> JointFrame:
    """The joint of ``side`` in the plane at ``z_mm``: the sacrum narrows caudally."""
    x = z_mm / JOINT_LENGTH_MM
    half_width = body.sacrum_half_width * (1.08 - 0.25 * x)
    angle = body.joint_angle
    # along the joint: posterior and medial; across: lateral
    et = (-side * np.sin(angle), np.cos(angle))
    en = (side * np.cos(angle), np.sin(angle))
    return JointFrame(side, side * half_width, 4.0 + 4.0 * x, et, en)


@dataclass
class Plane:
    """What `render_plane` leaves besides the canvas: bone masks and joint coordinates
    that the lesion painter needs (all on the supersampled grid)."""

    sacrum: np.ndarray  # bool, marrow and cortex of the sacrum
    ilium: np.ndarray  # bool
    marrow: np.ndarray  # bool, bone inside the cortical plate
    depth_from_joint: np.ndarray  # mm below the joint surface (bone side), FAR elsewhere
    t: np.ndarray  # along-joint coordinate of the nearer joint (mm)
    side: np.ndarray  # int8: −1 / +1 for the nearer joint
    bone_side: np.ndarray  # int8: −1 sacral, +1 iliac, 0 neither
    presence: float


def _sig(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def render_plane(
    body: Body,
    z_mm: float,
    grid: Grid2D,
    canvas: TissueCanvas,
    fields: dict[str, np.ndarray],
) -> Plane:
    """Paint the normal anatomy of the plane at ``z_mm`` on ``canvas`` (see the module
    docstring); ``fields`` are unit-SD smooth random fields on the grid (``marrow``,
    ``texture``, ``septa``, ``bowel``)."""
    shape = grid.shape
    x = z_mm / JOINT_LENGTH_MM
    presence = joint_presence(z_mm)
    ms = 1.45 * body.muscle_scale
    paint = canvas.paint

    # body outline, skin; fat everywhere inside by default (subcutaneous, pelvic)
    outline = Blob(0.0, 12.0, 175.0, 118.0 + 0.3 * body.subcutaneous_mm, 0.0, (0.04,), (0.0,))
    d_body = grid.depth(outline, 3.0)
    inside = d_body < 0
    paint(inside, ADIPOSE_FF, 1.0, 45.0, MUSCLE_T1_MS)
    paint(inside & (d_body > -1.5), 0.2, 0.8, 35.0, MUSCLE_T1_MS)

    frames = [joint_frame(body, s, z_mm) for s in (-1, 1)]
    coords = [f.coordinates(grid) for f in frames]
    hw = abs(frames[1].cu)
    depth = body.sacrum_depth * (1.0 - 0.35 * x)
    sv = 8.0 + 0.35 * depth

    # muscles compete for pixels; fat septa remain where two meet
    muscles: list[Blob] = []
    for s in (-1, 1):
        f = frames[s > 0]
        wing_u, wing_v = f.cu + s * 48.0, f.cv - 14.0 - 10.0 * x
        muscles += [
            Blob(wing_u - s * 4.0, wing_v - 22.0 * ms, 30.0 * ms, 13.0 * ms, s * 0.45),  # iliacus
            Blob(s * (hw - 2.0), sv - depth / 2 - 24.0 * ms, 17.0 * ms * (1.1 - 0.6 * x),
                 15.0 * ms * (1.1 - 0.6 * x)),  # psoas, cranial
            Blob(s * (hw + 22.0), sv - 0.3 * depth, 30.0 * ms * max(x - 0.35, 0.02) / 0.65,
                 11.0 * ms, s * 0.25),  # piriformis, caudal
            Blob(wing_u + s * 22.0, wing_v + 22.0, 34.0 * ms, 16.0 * ms, -s * 0.6),  # gl. medius
            Blob(s * (hw + 42.0), sv + depth / 2 + 28.0, 58.0 * ms, 24.0 * ms, -s * 0.35,
                 (0.05,), (0.5,)),  # gluteus maximus
            Blob(s * 16.0, sv + depth / 2 + 14.0, 15.0 * ms, 12.0 * ms * (1.1 - 0.5 * x)),  # MF
        ]  # fmt: skip
    competition = Competition(grid)
    for k, blob in enumerate(muscles):
        if blob.ax > 1.0 and blob.ay > 1.0:
            competition.add(k, blob)
    gap = competition.d2 - competition.d1
    septum = body.septum_mm * (1.0 + 0.8 * np.clip(fields["septa"], -1, 2))
    muscle = inside & (competition.d1 < 0) & (gap >= septum) & (d_body < -body.subcutaneous_mm)
    t2 = 32.0 * (1.0 + 0.05 * fields["texture"][muscle])
    paint(muscle, 0.03, 1.0, 32.0, MUSCLE_T1_MS)
    canvas.t2[muscle] = t2

    # pelvic cavity anterior to the sacrum: bowel (intermediate, fluid) and vessels
    cavity = inside & (grid.depth(Blob(0.0, sv - depth / 2 - 45.0, 60.0, 32.0), 3.0) < 0)
    cavity &= ~muscle
    bowel = cavity & (fields["bowel"] > 0.2)
    paint(bowel, 0.05, 0.9, 60.0, 1100.0)
    paint(bowel & (fields["bowel"] > 1.4), 0.0, 1.0, 500.0, 3000.0)
    for s in (-1, 1):
        vessel = Blob(s * (hw - 8.0 + 10.0 * x), sv - depth / 2 - 12.0, 5.5, 5.0)
        paint(inside & (grid.depth(vessel, 1.0) < 0), 0.0, 0.05, 200.0, 1500.0)

    # bones: sacrum (body + ala on both sides) and ilia (joint body + wing), cut by the joints
    d_sacrum = grid.depth(
        Blob(0.0, sv, hw * 0.82, depth / 2, 0.0, (0.06, -0.05), (np.pi, 0.0)), 3.0
    )
    d_ilium = np.full(shape, FAR, np.float32)
    for s, f in zip((-1, 1), frames, strict=True):
        along = CARTILAGE_END_MM + LIGAMENT_MM / 2
        ala_c = (f.cu - s * 9.0 + f.et[0] * 4.0, f.cv + f.et[1] * 4.0)
        ala = Blob(ala_c[0], ala_c[1], 14.0, along + 3.0, s * body.joint_angle)
        d_sacrum = np.minimum(d_sacrum, grid.depth(ala, 3.0))
        if presence > 0:
            joint_body = Blob(f.cu + s * 12.0 + f.et[0] * 4.0, f.cv + f.et[1] * 4.0,
                              15.0, (along + 2.0) * presence, s * body.joint_angle)  # fmt: skip
            d_ilium = np.minimum(d_ilium, grid.depth(joint_body, 3.0))
        wing = Blob(f.cu + s * 40.0 + (1 - presence) * s * 10.0, f.cv - 10.0 - 10.0 * x,
                    34.0, 9.0 + 3.0 * presence, s * 0.55)  # fmt: skip
        d_ilium = np.minimum(d_ilium, grid.depth(wing, 3.0))
    width = np.full(shape, FAR, np.float32)
    t_near = np.zeros(shape, np.float32)
    n_near = np.full(shape, FAR, np.float32)
    side_near = np.zeros(shape, np.int8)
    for s, (t, n) in zip((-1, 1), coords, strict=True):
        half = np.where(
            t <= CARTILAGE_END_MM,
            body.cleft_mm / 2,
            body.cleft_mm / 2 + 2.5 * np.clip((t - CARTILAGE_END_MM) / 6.0, 0.0, 1.0),
        )
        mine = (s * grid.u) > 0
        t_near[mine], n_near[mine], side_near[mine], width[mine] = t[mine], n[mine], s, half[mine]
    # the half-plane on each side: medial of the cleft is sacrum, lateral of it ilium
    d_sacrum = np.maximum(d_sacrum, n_near + width)
    d_ilium = np.maximum(d_ilium, width - n_near)
    sacrum = inside & (d_sacrum < 0)
    ilium = inside & (d_ilium < 0) & ~sacrum
    bone = sacrum | ilium
    d_bone = np.where(sacrum, d_sacrum, np.where(ilium, d_ilium, FAR))
    # the cleft between the two bones, where both reach it
    near_joint = (np.minimum(d_sacrum - (n_near + width), d_ilium - (width - n_near)) < 2.5) & (
        np.abs(n_near) < width + 0.5
    )
    cleft = inside & ~bone & near_joint & (np.abs(n_near) < width) & (presence > 0)
    cleft &= (t_near > -CARTILAGE_END_MM) & (t_near < CARTILAGE_END_MM + LIGAMENT_MM)
    cartilage = cleft & (t_near <= CARTILAGE_END_MM)
    ligament = cleft & ~cartilage
    paint(cartilage, 0.0, 0.75, 35.0, 1100.0)  # hyaline/fibrocartilage: intermediate on T1
    paint(ligament, ADIPOSE_FF, 1.0, 45.0, MUSCLE_T1_MS)  # fat between ligament strands
    strands = ligament & (np.abs(fields["texture"]) < 0.35)
    paint(strands, 0.0, 0.3, 20.0, 900.0)

    # marrow: red (mixed water/fat) with yellow islands, more of them with age and in the ala
    marrow = bone & (d_bone < -1.1)
    ala_bias = np.clip(1.0 - np.abs(np.abs(grid.u) - 0.55 * hw) / 18.0, 0.0, 1.0)
    score = fields["marrow"] + 0.9 * ala_bias * sacrum
    cut = float(np.quantile(fields["marrow"], 1.0 - body.yellow_share))
    yellow = _sig((score - cut) / 0.15)
    ff = body.red_marrow_ff + (0.9 - body.red_marrow_ff) * yellow
    paint(bone, 0.0, 0.06, 20.0, 900.0)  # cortex
    paint(marrow, 0.0, 1.0, 40.0, MARROW_T1_MS)
    canvas.fat[marrow] = ff[marrow]
    canvas.pd[marrow] = 0.95 + 0.05 * fields["texture"][marrow]

    # sacral canal (CSF, epidural fat) and the anterior foramina (fat round a nerve root)
    canal = Blob(0.0, sv + 0.45 * depth / 2, 11.0 * (1.0 - 0.4 * x), 6.0)
    d_canal = grid.depth(canal, 2.0)
    paint(sacrum & (d_canal < 0), ADIPOSE_FF, 1.0, 45.0, MUSCLE_T1_MS)
    paint(sacrum & (d_canal < -2.0), 0.0, 1.0, 1500.0, 4000.0)
    marrow &= d_canal > 0.0
    foramen_on = np.cos(2 * np.pi * (3.0 * x + body.foramen_phase)) > -0.1
    if foramen_on:
        for s in (-1, 1):
            fu, fv = s * 0.5 * hw * (1.0 - 0.2 * x), sv - 0.25 * depth / 2
            d_f = grid.depth(Blob(fu, fv, 6.5, 5.0, -s * 0.5), 2.0)
            paint(sacrum & (d_f < 0), ADIPOSE_FF, 1.0, 45.0, MUSCLE_T1_MS)
            d_root = grid.depth(Blob(fu + s * 0.5, fv + 0.5, 1.8, 1.8), 1.0)
            paint(sacrum & (d_root < 0), 0.0, 0.9, 50.0, 1000.0)
            marrow &= d_f > 0.0

    depth_from_joint = np.where(bone & (presence > 0), np.abs(n_near) - width, FAR)
    bone_side = np.where(sacrum, -1, np.where(ilium, 1, 0)).astype(np.int8)
    return Plane(sacrum, ilium, marrow, depth_from_joint.astype(np.float32), t_near, side_near,
                 bone_side, presence)  # fmt: skip
