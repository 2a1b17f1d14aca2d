"""Detector backends: ``alibi`` (alibi-detect, BSL) and ``scipy`` (license-free)."""
