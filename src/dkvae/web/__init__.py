"""The browser drum machine: a FastAPI app over `DrumMachine` and the kit exporters, and its static page."""
