"""Seed 001 (Irmakci et al. 2019, MRNet multi-view): the knee_mrnet task, its three-plane knee phantom and its tables."""
