"""Reading and writing images: formats, bit depths, alpha, numpy ↔ torch, and atomic files."""
