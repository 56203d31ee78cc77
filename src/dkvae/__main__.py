"""``python -m dkvae``: the same as the ``dkvae`` command."""

from dkvae.cli import main

main()
