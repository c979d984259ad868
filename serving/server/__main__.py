"""python -m serving.server: the supervised embedded server (serving/server/cli.py)."""
import sys

from .cli import main

sys.exit(main())
