"""Scanning sequences of any length with fixed-window models: windows, per-nucleotide profiles, peaks."""
