"""``python -m dkvae``: the same as the ``dkvae`` command."""

from .cli import main

main()
