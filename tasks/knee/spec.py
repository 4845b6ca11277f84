"""`knee_mrnet`: abnormality, ACL tear and meniscal tear of the knee from three MRI planes.

Seed 001 — Irmakci, Anwar, Torigian, Bagci, "Deep Learning for Musculoskeletal Image
Analysis" (2019; arXiv:1912.00311). On the public MRNet dataset (Bien et al., PLoS Med
2018;15:e1002699: knee MRI exams of Stanford, each a sagittal T2 fat-suppressed, a coronal
T1 and an axial PD fat-suppressed stack of 256 × 256 slices) the seed trains one CNN per
plane and per label — AlexNet, ResNet-18 or GoogLeNet, fine-tuned from ImageNet; Adam, lr
1e-4, weight decay 0.1, horizontal flips, rotations ±25°, shifts ±25 px, early stopping,
≤ 50 epochs — and fuses the three planes' probabilities with one logistic regression per
label fitted on the training set's predictions. 1,130 exams train, MRNet's 120-exam
``valid`` set is the test set. Metrics per label and their mean: AUC, sensitivity,
specificity, accuracy (Table I); the single-view rows give only the best view's mean.

The test composition follows from Table I's rates (AlexNet abnormal 0.9789 = 93/95,
0.4000 = 10/25; ACL 0.6852 = 37/54, 0.9545 = 63/66; meniscus 0.6923 = 36/52, 0.8088 =
55/68): 95 abnormal, 54 ACL tears, 52 meniscal tears among 120 exams, MRNet's valid set.

mskbench's additions: 95 % CIs (BCa bootstrap over cases; the seed gives none), the DeLong
test of multi-view against the best single view, and a second site (other contrast,
thicker slices) as an external test set.

Data: the public MRNet-v1.0 folders are read as they are (`data_layout="mrnet"`,
`mskbench.tasks.contract.mrnet`); the split is MRNet's own (fold 0: train → valid).
"""

from __future__ import annotations

from mskbench.tasks.spec import Citation, ProfileSpec, PublishedValue, SplitProtocol, TaskSpec
from mskbench.tasks.targets import SeriesSpec, binary_target

IRMAKCI_2019 = Citation(
    authors="Irmakci I, Anwar SM, Torigian DA, Bagci U",
    title="Deep Learning for Musculoskeletal Image Analysis",
    journal="arXiv:1912.00311 (53rd Asilomar Conference on Signals, Systems, and Computers)",
    year=2019,
    doi="10.1109/IEEECONF44664.2019.9048671",
    seed_file="001_c8551d7094f50bf5.txt",
)

LABELS = ("abnormal", "acl", "meniscus")
#: MRNet's valid set (the seed's test set): exams, abnormal, ACL tears, meniscal tears.
SEED_TEST = {"n": 120, "abnormal": 95, "acl": 54, "meniscus": 52}
#: The whole MRNet dataset as the seed describes it: 1,370 exams, 1,104 abnormal, 319 ACL
#: tears, 508 meniscal tears, 194 with both (the phantom draws training exams at these rates).
SEED_ALL = {"n": 1370, "abnormal": 1104, "acl": 319, "meniscus": 508, "both": 194}

TARGETS = tuple(
    binary_target(name, description=text, ci="bootstrap")
    for name, text in (
        ("abnormal", "any abnormality (MRNet's 'abnormal' label)"),
        ("acl", "anterior cruciate ligament tear"),
        ("meniscus", "meniscal tear"),
    )
)

SPLIT = SplitProtocol(
    kind="predefined",
    val_fraction=0.1,
    external_site="B",
    description=(
        "MRNet's own split: its 1,130 train exams train (10 % held out for early stopping), "
        "its 120 valid exams are the test set (fold 0); site-B exams (phantom only) are an "
        "external test set (an mskbench addition)."
    ),
)

METRICS = ("auroc", "sensitivity", "specificity", "accuracy", "ppv", "npv", "f1", "kappa")

#: Table I: (model, label) → (AUC, sensitivity, specificity, accuracy); ``average`` is the
#: mean over the three labels; ``single`` rows give only the best single view's average.
TABLE_I = {
    ("mrnet_alexnet", "abnormal"): (0.8914, 0.9789, 0.4000, 0.8583),
    ("mrnet_alexnet", "acl"): (0.9388, 0.6852, 0.9545, 0.8333),
    ("mrnet_alexnet", "meniscus"): (0.8060, 0.6923, 0.8088, 0.7583),
    ("mrnet_alexnet", "average"): (0.8787, 0.7855, 0.7211, 0.8166),
    ("mrnet_alexnet_single_view", "average"): (0.8387, 0.6850, 0.6939, 0.7639),
    ("mrnet_resnet18", "abnormal"): (0.8114, 0.9684, 0.2800, 0.8250),
    ("mrnet_resnet18", "acl"): (0.9540, 0.7778, 0.9394, 0.8667),
    ("mrnet_resnet18", "meniscus"): (0.8083, 0.6346, 0.8529, 0.7583),
    ("mrnet_resnet18", "average"): (0.8579, 0.7936, 0.6908, 0.8167),
    ("mrnet_resnet18_single_view", "average"): (0.7779, 0.7759, 0.6136, 0.7537),
    ("mrnet_googlenet", "abnormal"): (0.9091, 0.9789, 0.2800, 0.8333),
    ("mrnet_googlenet", "acl"): (0.8906, 0.6667, 0.9242, 0.8083),
    ("mrnet_googlenet", "meniscus"): (0.7791, 0.6154, 0.7647, 0.7000),
    ("mrnet_googlenet", "average"): (0.8596, 0.7537, 0.6563, 0.7806),
    ("mrnet_googlenet_single_view", "average"): (0.7605, 0.6231, 0.6847, 0.7046),
}
TABLE_I_METRICS = ("auroc", "sensitivity", "specificity", "accuracy")


def _published() -> tuple[PublishedValue, ...]:
    rows = []
    for (model, label), values in TABLE_I.items():
        for metric, value in zip(TABLE_I_METRICS, values, strict=True):
            per_label = label != "average"
            rows.append(
                PublishedValue(
                    "Table I",
                    model,
                    metric,
                    value,
                    group="test",
                    target=label if per_label else None,
                    structure="all" if per_label else "mean of labels",
                    n=SEED_TEST["n"],
                )
            )
    return tuple(rows)


def _profiles() -> dict[str, ProfileSpec]:
    def phantom(
        n_train: int, n_valid: int, n_external: int, slices: tuple[int, int], voxel_mm: float
    ) -> dict:
        return {"n_train": n_train, "n_valid": n_valid, "n_external": n_external,
                "slices": slices, "voxel_mm": voxel_mm}  # fmt: skip

    return {
        "smoke": ProfileSpec(
            "smoke",
            "CI: 12 train + 6 valid + 2 external exams, 4-6 slices per plane, latent knee at "
            "2.5 mm, 1 epoch",
            phantom=phantom(12, 6, 2, (4, 6), 2.5),
            folds=(0,),
            max_epochs=1,
            patience=1,
        ),
        "quick": ProfileSpec(
            "quick",
            "2-core CPU: 200 train + 120 valid (the seed's test composition) + 40 external "
            "exams, 10-16 slices per plane, latent knee at 1.25 mm, ≤ 6 epochs",
            phantom=phantom(200, 120, 40, (10, 16), 1.25),
            folds=(0,),
            max_epochs=6,
            patience=3,
        ),
        "paper": ProfileSpec(
            "paper",
            "seed protocol: 1,130 train + 120 valid exams in MRNet's label mix, 17-61 slices "
            "per plane (MRNet's range), latent knee at 0.8 mm, + 120 external, ≤ 50 epochs, "
            "early stopping",
            phantom=phantom(1130, 120, 120, (17, 61), 0.8),
            folds=(0,),
            max_epochs=50,
            patience=10,
        ),
    }


KNEE_MRNET = TaskSpec(
    name="knee_mrnet",
    version=1,
    title="Knee abnormality, ACL tear and meniscal tear from sagittal, coronal and axial MRI",
    citation=IRMAKCI_2019,
    anatomy="knee, three orthogonal 2D multislice stacks",
    protocol=SPLIT.description,
    series=(
        SeriesSpec("sagittal", ("T2FS",), 3, "sagittal T2-weighted fat-suppressed stack"),
        SeriesSpec("coronal", ("T1",), 3, "coronal T1-weighted stack"),
        SeriesSpec("axial", ("PDFS",), 3, "axial proton-density fat-suppressed stack"),
    ),
    targets=TARGETS,
    split=SPLIT,
    metrics=METRICS,
    primary_metric="auroc",
    published=_published(),
    phantom="mskbench.tasks.knee.phantom:generate",
    profiles=_profiles(),
    tables="mskbench.tasks.knee.tables:tables",
    data_layout="mrnet",
)
