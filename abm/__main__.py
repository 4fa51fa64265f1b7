"""Run the ``abm`` command line as ``python -m abm``."""
import sys

from .cli import main

sys.exit(main())
