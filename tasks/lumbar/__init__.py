"""`lumbar_paraspinal` (seed 002, Xu 2024): spec, spine anatomy and phantom, the task's
per-case evaluator and its paper tables."""
