"""The lumbar phantom: deterministic, complete, shaped like seed 002's cohort (rCSA by
level, FI by muscle, age effect, left/right asymmetry), with fat right outside the muscles,
and not solved by the thresholding algorithm."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from typer.testing import CliRunner

from mskbench.baselines.lumbar import threshold_fat
from mskbench.harness.cli import app
from mskbench.tasks import get_task
from mskbench.tasks.contract import Dataset, read_splits
from mskbench.tasks.lumbar.phantom import LABEL_OF, plan_cohort, render_scan, render_tissue
from mskbench.tasks.lumbar.spec import LEVELS, MUSCLE_LABELS
from mskbench.tasks.phantoms import prepare_phantom

from helpers import file_hashes

TASK = get_task("lumbar_paraspinal")
SIZE = 96


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    """Per (slice, muscle): rCSA, reference FI and the thresholding algorithm's FI, over
    30 site-A patients × 3 levels at 96 × 96."""
    rows = []
    muscles = [LABEL_OF[m] for m in MUSCLE_LABELS]
    for scan in plan_cohort(30, 0, seed=5):
        case = render_scan(scan, (SIZE, SIZE), 200.0 / SIZE)
        label, fat = case.label, case.masks["fat"] > 0
        thresholded, _, _ = threshold_fat(case.image[0].astype(float), label, muscles)
        disc = np.count_nonzero(label == LABEL_OF["IVD"])
        for name in MUSCLE_LABELS:
            inside = label == LABEL_OF[name]
            rows.append(
                {
                    "case": scan.case_id, "level": LEVELS[scan.level], "muscle": name[:2],
                    "side": name[-1], "age": scan.subject.age,
                    "symptomatic": name[-1] == scan.subject.symptom_side,
                    "rcsa": inside.sum() / disc, "fi": fat[inside].mean(),
                    "fi_threshold": thresholded[inside].mean(),
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(smoke_lumbar, tmp_path):
    again, created = prepare_phantom(TASK, "smoke", seed=0, out=tmp_path / "again")
    assert created and file_hashes(again) == file_hashes(smoke_lumbar)
    scan_a, scan_b = plan_cohort(2, 0, seed=0)[0], plan_cohort(2, 0, seed=1)[0]
    a, b = render_scan(scan_a, (64, 64), 3.125), render_scan(scan_b, (64, 64), 3.125)
    assert not np.array_equal(a.image, b.image) and not np.array_equal(a.label, b.label)


def test_every_slice_holds_every_structure_and_fat_only_inside_muscles(smoke_lumbar):
    dataset = Dataset(smoke_lumbar, TASK)  # validates every rule
    for case_id in dataset.case_ids:
        case = dataset.load(case_id)
        assert np.unique(case.label).tolist() == list(range(13))
        assert np.isin(case.label[case.masks["fat"]], [LABEL_OF[m] for m in MUSCLE_LABELS]).all()
    assert case.image.shape == (1, SIZE, SIZE)
    assert case.spacing == pytest.approx((200 / SIZE, 200 / SIZE))


def test_three_levels_per_patient_and_an_external_site(smoke_lumbar):
    cases = pd.read_csv(smoke_lumbar / "cases.csv", dtype={"subject_id": str})
    assert len(cases) == 30 and set(cases["level"]) == set(LEVELS)
    assert (cases.groupby("subject_id")["level"].nunique() == 3).all()
    assert set(cases.site) == {"A", "B"} and cases[cases.site == "B"].subject_id.nunique() == 2
    splits = read_splits(smoke_lumbar)
    assert sorted(splits.external) == sorted(cases.case_id[cases.site == "B"])
    subject = dict(zip(cases.case_id, cases.subject_id, strict=True))
    (fold,) = splits.folds
    assert not {subject[c] for c in fold.test} & {subject[c] for c in fold.train}
    assert len({subject[c] for c in fold.test}) == 3  # 30 % of 8 patients


def test_rcsa_follows_table4_trends_by_level(cohort):
    means = cohort.pivot_table(index="muscle", columns="level", values="rcsa")
    for muscle, direction in (("PM", 1), ("MF", 1), ("IL", -1), ("LO", -1)):
        values = means.loc[muscle, list(LEVELS)].to_numpy()
        assert (np.sign(np.diff(values)) == direction).all(), (muscle, values)
    table4 = {"PM": 0.88, "QL": 0.29, "IL": 0.70, "LO": 0.39, "MF": 0.32}  # L3/L4
    for muscle, expected in table4.items():
        assert means.loc[muscle, "L3/L4"] == pytest.approx(expected, rel=0.2)


def test_fi_is_highest_in_multifidus_lowest_in_quadratus_and_rises_with_age(cohort):
    fi = cohort.groupby("muscle").fi.mean()
    assert fi.idxmax() == "MF" and fi.idxmin() == "QL"
    assert fi.between(0.12, 0.34).all()
    assert np.corrcoef(cohort.age, cohort.fi)[0, 1] > 0.2
    mf = cohort[cohort.muscle == "MF"]
    assert mf[mf.symptomatic].fi.mean() > mf[~mf.symptomatic].fi.mean()  # left/right asymmetry


def test_fat_lies_right_outside_every_muscle():
    scan = plan_cohort(1, 0, seed=0)[1]
    tissue = render_tissue(scan, (SIZE, SIZE), 200.0 / SIZE)
    for name in MUSCLE_LABELS:
        inside = tissue.label == LABEL_OF[name]
        ring = ndimage.binary_dilation(inside, iterations=3) & ~inside & (tissue.label == 0)
        assert (tissue.fat[ring] > 0.5).mean() > 0.3, name


def test_the_thresholding_algorithm_does_not_solve_it(cohort):
    bias = (cohort.fi_threshold - cohort.fi).mean()
    mape = (100 * (cohort.fi_threshold - cohort.fi).abs() / cohort.fi).mean()
    assert bias > 0.04 and mape > 25.0  # seed Table 5: thresholding over-estimates FI


def test_bench_data_show_draws_a_slice_with_its_fat_mask(smoke_lumbar, tmp_path):
    out = tmp_path / "s001_L34.png"
    args = ["data", "show", str(smoke_lumbar), "--case", "s001_L34", "--out", str(out)]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_longissimus_and_iliocostalis_merge_without_a_septum_at_l4_l5():
    scan = plan_cohort(1, 0, seed=0)[2]  # s001 at L4/L5
    tissue = render_tissue(scan, (SIZE, SIZE), 200.0 / SIZE)
    for side in ("L", "R"):
        lo, il = (tissue.label == LABEL_OF[f"{m}_{side}"] for m in ("LO", "IL"))
        mf = tissue.label == LABEL_OF[f"MF_{side}"]
        lo_il = (ndimage.binary_dilation(lo) & il).sum()  # a shared border
        mf_lo = (ndimage.binary_dilation(mf) & lo).sum()  # a fat septum between them
        assert lo_il > 10 and lo_il > 5 * mf_lo, (side, lo_il, mf_lo)
