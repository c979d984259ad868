"""python -m serving.server: the supervised embedded server (serving/server/embedded.py)."""
import sys

from .embedded import main

sys.exit(main())
