"""Shared basics every stage uses: the config tree, errors, atomic writes, locks, progress, threads, drum classes, names."""
