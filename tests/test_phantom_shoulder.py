"""The shoulder phantom: deterministic, exactly the profile's grade counts, a label and an FF
map that agree with the grade (fat rises, the muscle shrinks into a fatty fossa), a written
dataset that validates, confounders a threshold falls for, and a grade no threshold reads
off the image as the rater does."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from skimage.filters import threshold_otsu
from typer.testing import CliRunner

from mskbench.harness.cli import app
from mskbench.tasks import get_task
from mskbench.tasks.contract import Dataset, read_splits
from mskbench.tasks.phantoms import mr, prepare_phantom
from mskbench.tasks.shoulder.phantom import (
    ADIPOSE_FF,
    FLUID_T1_MS,
    FLUID_T2_MS,
    PROTOCOL,
    SITE_A,
    SITE_B,
    generate,
    n_cases,
    plan_cohort,
    render_scan,
    render_tissue,
)
from mskbench.tasks.shoulder.spec import SEED_GRADE_COUNTS
from mskbench.tasks.shoulder.yview import GRADE_CUTS, allocate

from helpers import file_hashes

TASK = get_task("shoulder_supraspinatus")
SMOKE = TASK.profile("smoke").phantom
SIZE = 96


@pytest.fixture(scope="module")
def smoke_shoulder(isolated_cache: Path) -> Path:
    """The smoke phantom (read-only)."""
    root, _ = prepare_phantom(TASK, "smoke", seed=0)
    return root


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    """Per image of 20 site-A shoulders per grade at 96 × 96: the reference grade, the true
    fat share, and inside the label the mean FF (%), the area (mm²) and the share of
    pixels above the Otsu cut of the 8-bit image."""
    rows = []
    for scan in plan_cohort((20, 20, 20, 20, 20), 0, seed=3):
        case = render_scan(scan, (SIZE, SIZE), 150.0 / SIZE)
        inside = case.label == 1
        pixels = case.image[0][inside]
        rows.append(
            {
                "grade": scan.subject.grade,
                "share": scan.subject.fat_share,
                "ff": float(case.maps["ff"][inside].mean()),
                "area": float(inside.sum() * (150.0 / SIZE) ** 2),
                "otsu": float((pixels > threshold_otsu(pixels)).mean()),
            }
        )
    return pd.DataFrame(rows)


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(smoke_shoulder, tmp_path):
    again, created = prepare_phantom(TASK, "smoke", seed=0, out=tmp_path / "again")
    assert created and file_hashes(again) == file_hashes(smoke_shoulder)
    a = render_scan(plan_cohort((1, 0, 0, 0, 0), 0, seed=0)[0], (64, 64), 150 / 64)
    b = render_scan(plan_cohort((1, 0, 0, 0, 0), 0, seed=1)[0], (64, 64), 150 / 64)
    assert not np.array_equal(a.image, b.image) and not np.array_equal(a.label, b.label)


def test_exactly_the_profiles_grade_counts_and_an_external_site(smoke_shoulder):
    cases = pd.read_csv(smoke_shoulder / "cases.csv", dtype={"risky": str}, keep_default_na=False)
    assert len(cases) == n_cases(**SMOKE) == sum(SMOKE["grade_counts"]) + SMOKE["n_external"]
    internal, external = cases[cases.site == "A"], cases[cases.site == "B"]
    counts = internal.goutallier.value_counts().reindex(range(5), fill_value=0)
    assert tuple(counts) == tuple(SMOKE["grade_counts"])
    assert len(external) == SMOKE["n_external"]
    expected = {0: "0", 1: "0", 2: "", 3: "1", 4: "1"}
    assert (cases.risky == cases.goutallier.map(expected)).all()
    assert set(cases.sex) <= {"F", "M"} and cases.age.between(18, 90).all()
    assert (cases.subject_id == cases.case_id).all()  # one image per shoulder
    assert sorted(read_splits(smoke_shoulder).external) == sorted(external.case_id)


def test_paper_cohort_has_the_seeds_grades_sexes_and_ages():
    scans = plan_cohort(SEED_GRADE_COUNTS, 60, seed=0)
    subjects = pd.DataFrame([vars(s.subject) for s in scans])
    internal = subjects[subjects.site == "A"]
    assert tuple(internal.grade.value_counts().sort_index()) == SEED_GRADE_COUNTS
    assert (internal.sex == "M").sum() == 333  # seed: 333 of 606 images from men
    assert internal.age.mean() == pytest.approx(55.1, abs=2.0)
    assert internal.age.std() == pytest.approx(13.2, abs=1.5)
    women = internal.groupby(internal.grade >= 3).sex.apply(lambda s: (s == "F").mean())
    assert women[True] > women[False] + 0.05  # more women in the higher grades
    assert internal.groupby("grade").age.mean().is_monotonic_increasing
    external = subjects[subjects.site == "B"].grade.value_counts().sort_index()
    assert tuple(external) == allocate(SEED_GRADE_COUNTS, 60) == (40, 11, 5, 2, 2)


def test_the_written_dataset_validates(smoke_shoulder):
    runner = CliRunner()
    result = runner.invoke(
        app, ["data", "prepare", "--task", TASK.name, "--profile", "smoke"], catch_exceptions=False
    )
    assert result.exit_code == 0 and "already prepared (cached)" in result.output, result.output
    result = runner.invoke(app, ["data", "validate", str(smoke_shoulder), "--task", TASK.name])
    assert result.exit_code == 0 and "valid" in result.output, result.output
    dataset = Dataset(smoke_shoulder, TASK)  # validates every rule
    for case_id in dataset.case_ids:
        case = dataset.load(case_id)
        image = case.image[0]
        assert case.image.shape == (1, SIZE, SIZE) and case.spacing == pytest.approx(
            (150 / SIZE,) * 2
        )
        assert image.min() >= 0 and image.max() <= 255 and np.array_equal(image, np.round(image))
        assert set(np.unique(case.label)) == {0, 1}
        ff = case.maps["ff"]
        assert ff.min() >= 0 and ff.max() <= 100 and ff[case.label == 1].mean() > 1.0


def test_ff_inside_the_ssp_rises_with_grade(cohort):
    ff = cohort.groupby("grade").ff.mean()
    assert ff.is_monotonic_increasing and ff.diff().dropna().min() > 3.0, ff
    assert 1.5 < ff[0] < 6.0  # healthy supraspinatus: a few % fat
    assert ff[4] > 40.0  # more fat than muscle
    assert stats.spearmanr(cohort.ff, cohort.share).statistic > 0.9


def test_atrophy_shrinks_the_ssp_and_the_vacated_fossa_is_fat(cohort):
    area = cohort.groupby("grade").area.mean()
    assert area[0] > area[2] > area[4] and area[4] < 0.65 * area[0], area
    assert stats.spearmanr(cohort.area, cohort.grade).statistic < -0.35
    scan = next(s for s in plan_cohort((0, 0, 0, 0, 3), 0, seed=0) if s.subject.occupation < 0.5)
    tissue = render_tissue(scan, (SIZE, SIZE), 150.0 / SIZE)
    vacated = tissue.fossa & (tissue.label == 0)
    rows, cols = np.nonzero(tissue.label)
    box = np.zeros_like(vacated)
    box[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = True
    assert vacated.sum() > 0.5 * tissue.label.sum()  # the muscle fills under half its fossa
    assert np.median(tissue.fat[vacated]) > 0.9  # and fat fills the rest
    assert (vacated & box).any()  # some of it inside the crop a classifier sees


def test_the_grade_is_not_a_function_of_the_true_fat_share():
    subjects = [s.subject for s in plan_cohort(SEED_GRADE_COUNTS, 0, seed=0)]
    share = pd.DataFrame(
        {"grade": [s.grade for s in subjects], "share": [s.fat_share for s in subjects]}
    )
    low, high = share.groupby("grade").share.min(), share.groupby("grade").share.max()
    for grade, cut in enumerate(GRADE_CUTS):  # graders disagree near every boundary
        assert high[grade] > low[grade + 1], (grade, high[grade], low[grade + 1])
        assert low[grade] < cut < high[grade + 1]
    assert share.groupby("grade").share.median().is_monotonic_increasing


def test_a_threshold_does_not_read_the_grade_as_the_rater_does(cohort):
    reference = stats.spearmanr(cohort.ff, cohort.grade).statistic
    otsu = stats.spearmanr(cohort.otsu, cohort.grade).statistic
    assert reference > 0.85 and otsu < reference - 0.3, (reference, otsu)


def test_fluid_in_the_muscle_is_as_bright_as_fat_and_holds_none():
    scan = next(
        s for s in plan_cohort((0, 0, 20, 0, 0), 0, seed=0) if s.subject.cyst or s.subject.tear
    )
    tissue = render_tissue(scan, (SIZE, SIZE), 150.0 / SIZE)
    signal = mr.spin_echo_signal(SITE_A, tissue.pd, tissue.fat, tissue.t1, tissue.t2)
    inside = tissue.label == 1
    fluid = inside & (tissue.fat == 0) & (tissue.pd == 1.0)
    fat = tissue.body & (tissue.fat > 0.9) & (tissue.pd == 1.0)
    assert fluid.any()
    assert (
        np.median(signal[fluid])
        > 0.9 * np.median(signal[fat])
        > 3.0 * np.median(signal[inside & (tissue.fat < 0.05) & (tissue.pd > 0.9)])
    )


def test_site_b_has_another_contrast_and_a_lower_snr():
    def contrast(site: mr.Site) -> tuple[float, float]:
        """fat / muscle and fluid / fat signal at the middle of the site's protocol range."""
        (te_low, te_high), (tr_low, tr_high) = PROTOCOL[site.name]
        site = replace(site, te_ms=(te_low + te_high) / 2, tr_ms=(tr_low + tr_high) / 2)
        t1 = FLUID_T1_MS * site.t1_muscle_ms / SITE_A.t1_muscle_ms
        t2 = FLUID_T2_MS * site.t2_muscle_ms / SITE_A.t2_muscle_ms
        fat = mr.spin_echo_signal(site, 1.0, ADIPOSE_FF, site.t1_muscle_ms, site.t2_muscle_ms)
        fluid = mr.spin_echo_signal(site, 1.0, 0.0, t1, t2)
        return float(fat), float(fluid / fat)

    (fat_a, fluid_a), (fat_b, fluid_b) = contrast(SITE_A), contrast(SITE_B)
    assert fat_b < 0.8 * fat_a and fluid_b < fluid_a
    assert SITE_B.snr < SITE_A.snr and SITE_B.bias > SITE_A.bias


def test_smoke_generation_takes_seconds():
    start = time.perf_counter()
    cases = list(generate(**SMOKE, seed=5))
    assert len(cases) == n_cases(**SMOKE) and time.perf_counter() - start < 15.0


def test_bench_data_show_draws_a_case_with_its_grade(smoke_shoulder, tmp_path):
    out = tmp_path / "s001.png"
    args = ["data", "show", str(smoke_shoulder), "--case", "s001", "--out", str(out)]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
