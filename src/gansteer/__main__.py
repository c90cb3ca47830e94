"""`python -m gansteer` == the `gansteer` console script."""

from .cli import main

main()
