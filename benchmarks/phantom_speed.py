"""Time the NMD phantom: rendering one paper-profile volume (320 × 320 × 20, 0.68 mm), and
writing it (NIfTI, gzip), on one core.

    python benchmarks/phantom_speed.py [--repeats 5]

Target (issue 2): a paper-profile volume generates in well under 2 s on one core.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says

from mskbench.tasks import get_task
from mskbench.tasks.contract import Layout, write_case
from mskbench.tasks.nmd.limb import TEMPLATES
from mskbench.tasks.nmd.phantom import plan_cohort, render_scan


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5, help="volumes rendered per section")
    args = parser.parse_args()
    for section, task_name in (("thigh", "nmd_thigh"), ("leg", "nmd_leg")):
        params = dict(get_task(task_name).profile("paper").phantom)
        scans = plan_cohort(
            section, params["n_subjects"], params["n_scans"], params["n_external"], seed=0
        )
        grid = (tuple(params["shape"]), params["pixel_mm"], params["n_slices"], params["slice_mm"])
        render_scan(TEMPLATES[section], scans[0], *grid)  # warm-up (lookup tables, imports)
        render_times, write_times = [], []
        with tempfile.TemporaryDirectory() as tmp:
            layout = Layout(Path(tmp), ".nii.gz")
            for sub in ("imagesTr", "labelsTr", "maps"):
                (Path(tmp) / sub).mkdir()
            for scan in scans[1 : args.repeats + 1]:
                start = time.perf_counter()
                case = render_scan(TEMPLATES[section], scan, *grid)
                render_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                write_case(layout, get_task(task_name), case)
                write_times.append(time.perf_counter() - start)
        shape = "×".join(map(str, (*params["shape"], params["n_slices"])))
        render, write = sorted(render_times), sorted(write_times)
        print(
            f"{task_name:10s} paper volume {shape} @ {params['pixel_mm']} mm: "
            f"render median {render[len(render) // 2]:.2f} s (min {render[0]:.2f}, max {render[-1]:.2f}); "
            f"write 5 files median {write[len(write) // 2]:.2f} s; n={len(render)}"
        )


if __name__ == "__main__":
    main()
