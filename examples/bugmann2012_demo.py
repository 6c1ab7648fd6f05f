"""
Bugmann's (2012) rule on the five inputs of the forum thread the project
started from, on every available target (the package's demo, also run as
``python -m brian2_hetero.demo``): prints the final weights per target and
their largest disagreement, and writes ``output/demo.png``.

Usage: ``python examples/bugmann2012_demo.py [--output DIR]``
"""

import sys

from brian2_hetero.demo import main

if __name__ == "__main__":
    sys.exit(main())
