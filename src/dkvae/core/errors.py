"""Errors a user can cause: the CLI prints their message on one line and exits with code 2."""


class DkvaeError(Exception):
    """A problem with the user's input (a missing folder, a wrong model), not a bug in dkvae."""


class TrainingDiverged(DkvaeError):
    """A training loss became NaN or infinite; the best model so far is kept."""


class TrainingCollapsed(DkvaeError):
    """A generator's sounds became far less varied than real ones (mode collapse); the best model is kept."""
