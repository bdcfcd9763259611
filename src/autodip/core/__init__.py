"""The run's machinery: the optimisation loop, its checkpoints, hardware placement, the memory
estimate, tiles, padding geometry and array checks.
"""
