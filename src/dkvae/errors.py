"""Errors a user can cause: the CLI prints their message on one line and exits with code 2."""


class DkvaeError(Exception):
    """A problem with the user's input (a missing folder, a wrong model), not a bug in dkvae."""
