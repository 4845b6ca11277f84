"""nnU-Net v2 as a baseline: the real ``nnunetv2`` package, driven through its Python API on
the harness's folds (issue 16).

- `card` — the torch-free, nnunetv2-free card ``NNUNET`` (``bench list models`` reads only it);
- `raw` — one fold's cases as an nnU-Net raw dataset, written from the loaded arrays;
- `driver` — ``python -m mskbench.baselines.nnunet.driver JOB``: fingerprint, plan,
  preprocess, train fold 0 (a subprocess, so nnU-Net's environment variables and its
  process pools stay out of the harness's process);
- `trainer` — ``nnUNetTrainerMskbench``: nnU-Net's trainer with the harness's schedule and
  one JSON progress line per epoch;
- `model` — ``NnUNet``: the model plugin (fit / predict).

Needs the optional dependency ``nnunetv2`` (``pip install 'mskbench[nnunet]'``) only when a
model is fitted.
"""
