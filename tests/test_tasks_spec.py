"""Task specs are validated metadata; the NMD tasks carry seed 003's protocol and numbers."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from mskbench.harness.metrics import METRICS
from mskbench.tasks import (
    PROFILES,
    OutlierFence,
    SegmentationTarget,
    TaskSpecError,
    get_task,
    task_names,
)
from mskbench.tasks.nmd.spec import LEG_MUSCLES, NMD_THIGH, THIGH_MUSCLES


def test_registry_lists_both_nmd_tasks():
    assert {"nmd_thigh", "nmd_leg"} <= set(task_names())


def test_unknown_task_error_lists_the_known_ones():
    with pytest.raises(KeyError, match=r"unknown task 'nope'; known tasks: .*nmd_leg, nmd_thigh"):
        get_task("nope")


def test_listing_tasks_imports_neither_torch_nor_the_phantom_code():
    code = (
        "import sys; import mskbench.tasks as tasks; [tasks.get_task(n) for n in tasks.task_names()]; "
        "print('torch' in sys.modules, 'mskbench.tasks.nmd.phantom' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_thigh_and_leg_label_maps_follow_the_seed():
    thigh, leg = get_task("nmd_thigh"), get_task("nmd_leg")
    assert (
        thigh.structure_names
        == THIGH_MUSCLES
        == ("Ad", "BF", "Gr", "RF", "Sa", "SM", "ST", "VI", "VL", "VM")
    )
    assert leg.structure_names == LEG_MUSCLES == ("AC", "DPC", "GL", "GM", "LC", "So")
    assert thigh.labels["background"] == 0 and thigh.labels["VM"] == 10


def test_nmd_protocol_is_ten_fold_subject_grouped_cv_with_g20_strata():
    for name in ("nmd_thigh", "nmd_leg"):
        spec = get_task(name)
        assert spec.split.kind == "kfold" and spec.split.n_folds == 10
        assert spec.split.group_by == "subject_id" and spec.split.val_fraction == 0.1
        assert spec.map_names == ("ff", "mtr", "t2")
        (g20,) = spec.strata
        assert (g20.attribute, g20.threshold) == ("ff_ref", 20.0)
        assert g20.group(19.99) == "G20-" and g20.group(20.0) == "G20+"
        assert spec.primary_metric == "dice" and spec.higher_is_better
        assert set(spec.profiles) == set(PROFILES)


def test_published_numbers_are_table1_and_table2_of_the_seed():
    thigh = {(p.source, p.model, p.metric, p.group): p for p in get_task("nmd_thigh").published}
    leg = {(p.source, p.model, p.metric, p.group): p for p in get_task("nmd_leg").published}
    hrnet_dsc = thigh[("Table 1", "hrnet", "dice", "thigh")]
    assert (hrnet_dsc.value, hrnet_dsc.sd) == (0.93, 0.04)
    assert leg[("Table 1", "unet2d", "absence_rate", "leg")].value == 3.89
    assert leg[("Table 1", "unet3d", "outlier_rate", "leg")].value == 6.39
    g20 = {k: v for k, v in thigh.items() if k[0].startswith("Table 2")}
    plus = g20[(next(iter(g20))[0], "hrnet", "dice", "G20+")]
    assert (plus.value, plus.sd, plus.p_value) == (0.87, 0.09, 4.48e-15)
    assert all(p.note == "published, other data" for p in thigh.values())
    assert len(thigh) == 4 * 7 + 5 * 2
    assert get_task("nmd_thigh").citation.doi == "10.1002/jmri.28708"


def _labels(labels, **kw):
    return {"targets": (SegmentationTarget(labels, **kw),)}


THIGH_LABELS = dict(NMD_THIGH.labels)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda: {"primary_metric": "hd95_typo"}, "primary metric 'hd95_typo' is not in metrics"),
        (
            lambda: {"metrics": ("dice", "not_a_metric")},
            "metric 'not_a_metric' is not in the metric catalogue",
        ),
        (lambda: _labels({"background": 0, "Ad": 2}), "label values must be 0..K without gaps"),
        (lambda: _labels({"bg": 0, "Ad": 1}), "labels must map 'background' to 0"),
        (lambda: {"name": "NMD-Thigh"}, "name must be lower_snake_case"),
        (
            lambda: {"phantom": "mskbench.tasks.nmd.phantom.generate_thigh"},
            "phantom must be a 'module:function' reference",
        ),
        (lambda: {"maps": (), "metrics": ("dice",)}, "stratum G20 uses map 'ff' the task lacks"),
        (lambda: {"maps": ()}, "metric 'ff_delta' is not in the metric catalogue"),
        (
            lambda: _labels(THIGH_LABELS, required=("Ad", "XX")),
            r"required labels \['XX'\] are not in the label map",
        ),
        (lambda: {"targets": ()}, "at least one target is required"),
        (lambda: _labels(THIGH_LABELS, series="coronal"), "label map's series 'coronal'"),
        (lambda: {"series": ()}, "at least one input series is required"),
        (
            lambda: {"targets": (*NMD_THIGH.targets, SegmentationTarget(THIGH_LABELS))},
            "duplicate target names",
        ),
        (
            lambda: {"outlier_fence": OutlierFence("reference")},
            "'reference' outlier fence \\(and only it\\) names reference_models",
        ),
        (lambda: {"task_metrics": (METRICS["dice"],)}, r"task metrics \['dice'\] are already"),
    ],
)
def test_invalid_task_metadata_fails_at_construction(change, message):
    with pytest.raises(TaskSpecError, match=message):
        dataclasses.replace(NMD_THIGH, **change())


def test_a_task_without_all_three_profiles_is_rejected():
    profiles = {k: v for k, v in NMD_THIGH.profiles.items() if k != "paper"}
    with pytest.raises(TaskSpecError, match=r"profiles \['paper'\] are missing"):
        dataclasses.replace(NMD_THIGH, profiles=profiles)


def test_specs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        NMD_THIGH.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        NMD_THIGH.labels["Ad"] = 5  # type: ignore[index]
