"""dkvae: an AI drum machine. A variational autoencoder learns your drum one-shots and generates new ones."""

from dkvae.core.config import AudioConfig, Config, SplitConfig, get_preset
from dkvae.core.errors import DkvaeError
from dkvae.data.bank import Bank
from dkvae.inference.machine import DrumMachine

__all__ = ["AudioConfig", "Bank", "Config", "DkvaeError", "DrumMachine", "SplitConfig", "get_preset"]
__version__ = "0.1.0"
