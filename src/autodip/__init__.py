"""autodip."""
