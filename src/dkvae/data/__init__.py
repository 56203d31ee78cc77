"""Banks of drum sounds: their layout on disk, preprocessing into packed spectrograms, and training augmentation."""
