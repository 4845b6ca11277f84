"""`nmd_thigh` and `nmd_leg` (seed 003, Hostin 2023): spec, limb templates and phantom."""
