"""Seed 004's SIJ phantom: oblique-axial T1 volumes of 16–20 anisotropic slices, the seed's
prevalence per centre, FM in every patient (more bilateral and extensive in axSpA, with
overlap), a younger and more inflamed site B, and bright fat outside the FM reference."""

from __future__ import annotations

import numpy as np
import pytest

from mskbench.tasks.phantoms.canvas import TissueCanvas
from mskbench.tasks.phantoms.shapes import Grid2D
from mskbench.tasks.sij import phantom
from mskbench.tasks.sij.anatomy import JOINT_LENGTH_MM, render_plane
from mskbench.tasks.sij.lesions import paint_lesions


def _extent(plan) -> float:
    """Planned FM volume proxy (mm³): Σ length × height × depth of the lesions."""
    return sum(8 * p.half_t * p.half_z * p.depth for p in plan.lesions.fm)


def _bilateral(plan) -> bool:
    return len({p.side for p in plan.lesions.fm}) == 2


@pytest.fixture(scope="module")
def cohort():
    return phantom.plan_cohort(648, 58, seed=0)


def test_the_same_seed_gives_the_same_volume_and_another_seed_another():
    plan = phantom.plan_patient(0, "A", 0)
    a = phantom.render_patient(plan, (48, 48), 3.0)
    b = phantom.render_patient(phantom.plan_patient(0, "A", 0), (48, 48), 3.0)
    c = phantom.render_patient(phantom.plan_patient(1, "A", 0), (48, 48), 3.0)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.label, b.label)
    assert a.image.shape != c.image.shape or not np.array_equal(a.image, c.image)


def test_volumes_hold_16_to_20_anisotropic_oblique_axial_slices(cohort):
    assert {p.n_slices for p in cohort} <= set(range(16, 21))
    case = phantom.render_patient(cohort[0], (48, 48), 3.0)
    assert case.image.shape == (1, cohort[0].n_slices, 48, 48)
    assert case.spacing[0] >= 4.0 > case.spacing[1] == case.spacing[2]
    assert phantom.SLICE_MM["B"] > phantom.SLICE_MM["A"]  # site B: thicker slices


def test_axspa_prevalence_per_centre_is_the_seeds(cohort):
    for site, (positives, total) in phantom.PREVALENCE.items():
        plans = [p for p in cohort if p.site == site]
        assert (sum(p.axspa for p in plans), len(plans)) == (positives, total)


def test_the_segmentation_cohort_is_the_first_patients_of_the_classification_cohort(cohort):
    small = phantom.plan_cohort(103, 20, seed=0)
    big = {p.case_id: p for p in cohort}
    assert all(big[p.case_id] == p for p in small)
    assert abs(sum(p.axspa for p in small[:103]) - 103 * 462 / 648) <= 1


def test_every_patient_has_fat_metaplasia(cohort):
    assert all(p.lesions.fm for p in cohort)
    for plan in cohort[:3] + cohort[-2:]:
        assert phantom.render_patient(plan, (48, 48), 3.0).label.sum() > 0


def test_axspa_fm_is_more_bilateral_and_extensive_yet_overlaps_non_axspa(cohort):
    site_a = [p for p in cohort if p.site == "A"]
    pos = [p for p in site_a if p.axspa]
    neg = [p for p in site_a if not p.axspa]
    assert np.mean([_bilateral(p) for p in pos]) > np.mean([_bilateral(p) for p in neg]) + 0.2
    ext_pos, ext_neg = [_extent(p) for p in pos], [_extent(p) for p in neg]
    assert np.median(ext_pos) > 1.5 * np.median(ext_neg)
    # overlap: a quarter of non-axSpA patients have more FM than the smallest quarter of axSpA
    assert np.mean(np.array(ext_neg) > np.quantile(ext_pos, 0.25)) > 0.1
    iliac_only = [all(x.bone == 1 for x in p.lesions.fm) for p in neg]
    assert np.mean(iliac_only) > 0.4
    assert np.mean([bool(p.lesions.erosions) for p in pos]) > 0.4
    assert np.mean([bool(p.lesions.sclerosis) for p in neg]) > 0.2


def test_site_b_is_younger_more_inflamed_with_smaller_fm_and_lower_snr(cohort):
    a = [p for p in cohort if p.site == "A"]
    b = [p for p in cohort if p.site == "B"]
    assert (
        np.mean([bool(p.lesions.oedema) for p in b])
        > np.mean([bool(p.lesions.oedema) for p in a]) + 0.15
    )
    assert np.median([_extent(p) for p in b]) < np.median([_extent(p) for p in a])
    assert np.mean([p.body.age for p in b]) < np.mean([p.body.age for p in a])
    assert phantom.SITE_B.snr < phantom.SITE_A.snr
    assert phantom.SITE_B.field_t != phantom.SITE_A.field_t
    assert phantom.SITE_B.tr_ms != phantom.SITE_A.tr_ms


def test_bright_fat_outside_the_fm_reference_lies_in_bone_foramina_and_joint():
    """Yellow marrow, foraminal and joint fat are as fatty as FM but are not FM."""
    plan = phantom.plan_patient(0, "A", 1)
    fine = (192, 192)
    grid = Grid2D(fine, 1.0, 0.0, plan.shift)
    rng = np.random.default_rng(0)
    found = {"bone": 0, "fm": 0, "outside_bone": 0}
    for z in np.linspace(0.2, 0.8, 7) * JOINT_LENGTH_MM:
        fields = {k: np.asarray(rng.standard_normal(fine), np.float32) * 0 + rng.standard_normal()
                  for k in ("marrow", "texture", "septa", "bowel", "fm", "oedema")}  # fmt: skip
        fields["marrow"] = phantom.mr.smooth_noise(rng, fine, (4.0, 4.0))
        canvas = TissueCanvas.blank(fine, 1000.0, 32.0)
        plane = render_plane(plan.body, float(z), grid, canvas, fields)
        fm = paint_lesions(plan.lesions, plane, float(z), canvas, fields) >= 0.5
        fatty = canvas.fat >= 0.85
        bone = plane.sacrum | plane.ilium
        found["bone"] += int((fatty & bone & ~fm).sum())
        found["fm"] += int(fm.sum())
        near = np.abs(np.abs(grid.u) - 45.0) < 30.0  # within 3 cm of the joints
        found["outside_bone"] += int((fatty & ~bone & near).sum())
    assert found["fm"] > 0
    assert found["bone"] > 0.5 * found["fm"]  # yellow marrow, foraminal and canal fat
    assert found["outside_bone"] > found["fm"]  # joint, intermuscular, pelvic fat
