"""`shoulder_supraspinatus` (seed 000, Saavedra 2024): spec, Y-view phantom."""
