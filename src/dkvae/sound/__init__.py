"""Sound on arrays and in files: audio math, WAV and sound-file reading, spectrogram inversion, format records."""
