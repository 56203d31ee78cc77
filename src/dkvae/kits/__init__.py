"""Drum kits that load in real samplers: the pad layout, building a kit from a model, and one writer per format."""
