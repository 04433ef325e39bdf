"""Whole experiments built on the rest: the teacher-to-compare pipeline and sweeps."""
