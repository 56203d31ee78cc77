"""Using a trained model: the `DrumMachine`, writing what it makes with sidecars, and export for plugin hosts."""
