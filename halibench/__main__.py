"""``python -m halibench`` (and ``torchrun -m halibench``)."""

from halibench.cli import main

main()
