"""dkvae: an AI drum machine. A variational autoencoder learns your drum one-shots and generates new ones."""

from .bank import Bank
from .config import AudioConfig, Config, SplitConfig, get_preset
from .errors import DkvaeError
from .machine import DrumMachine

__all__ = ["AudioConfig", "Bank", "Config", "DkvaeError", "DrumMachine", "SplitConfig", "get_preset"]
__version__ = "0.1.0"
