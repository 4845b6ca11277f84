"""Readable names of metrics without a short name of their own (`harness.report.SHORT_NAMES`):
the snake_case parts of the catalogue name spelled out, e.g. ``fi_refseg_ape`` → "FI (ref.
seg.) APE", ``instance_recall`` → "Instance recall". A part that is a unit (``mm2``,
``cm3``) is left out: headers show the catalogue unit beside the name.
"""

from __future__ import annotations

#: Parts spelled differently from their lower-case form; None drops the part.
PARTS: dict[str, str | None] = {
    "ape": "APE",
    "auroc": "AUROC",
    "cm3": None,
    "f1": "F1",
    "fcsa": "fCSA",
    "ff": "FF",
    "fi": "FI",
    "iou": "IoU",
    "mm": None,
    "mm2": None,
    "mtr": "MTR",
    "npv": "NPV",
    "ppv": "PPV",
    "pred": "pred.",
    "rcsa": "rCSA",
    "ref": "ref.",
    "refseg": "(ref. seg.)",
    "se": "SE",
    "t2": "T2",
    "tcsa": "tCSA",
}


def readable_metric(name: str) -> str:
    """``name`` (a catalogue metric) as words; the first letter capitalised when the first
    word is a plain one (``kappa`` → "Kappa", ``rcsa_se`` → "rCSA SE")."""
    words = []
    for part in name.split("_"):
        spelled = PARTS.get(part, part)
        if spelled is not None:
            words.append(spelled)
    if not words:
        return name
    if words[0] == name.split("_")[0]:
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)
