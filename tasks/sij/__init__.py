"""Seed 004 (Li 2024): sacroiliac-joint fat metaplasia and axSpA tasks, their phantom and tables."""
