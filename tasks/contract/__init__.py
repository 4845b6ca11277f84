"""The data contract: layout, reading, validation, frozen splits and fingerprints."""

from mskbench.tasks.case import Case
from mskbench.tasks.contract.dataset import Dataset
from mskbench.tasks.contract.fingerprint import canonical_json, data_fingerprint, json_sha256
from mskbench.tasks.contract.imageio import FILE_ENDINGS, Grid, read_grid, read_image, write_image
from mskbench.tasks.contract.layout import (
    ContractError,
    Layout,
    make_dataset_json,
    read_dataset_json,
)
from mskbench.tasks.contract.splits import (
    Fold,
    Splits,
    make_splits,
    read_splits,
    validation_subjects,
    write_splits,
)
from mskbench.tasks.contract.validate import (
    Problem,
    ValidationError,
    check_dataset,
    check_splits,
    validate_dataset,
)
from mskbench.tasks.contract.writer import CaseArrays, create_splits, write_case, write_dataset

__all__ = [
    "FILE_ENDINGS",
    "Case",
    "CaseArrays",
    "ContractError",
    "Dataset",
    "Fold",
    "Grid",
    "Layout",
    "Problem",
    "Splits",
    "ValidationError",
    "canonical_json",
    "check_dataset",
    "check_splits",
    "create_splits",
    "data_fingerprint",
    "json_sha256",
    "make_dataset_json",
    "make_splits",
    "read_dataset_json",
    "read_grid",
    "read_image",
    "read_splits",
    "validate_dataset",
    "validation_subjects",
    "write_case",
    "write_dataset",
    "write_image",
    "write_splits",
]
