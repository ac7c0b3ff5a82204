"""`python -m voxiectl …`: the same as the `voxiectl` console script."""

from voxiectl.cli import main

main()
