"""``python -m modelbook.cli``: the same as the ``modelbook`` command."""

from . import main

main()
