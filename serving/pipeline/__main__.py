"""python -m serving.pipeline {validate,...}: see serving/pipeline/cli.py."""
from .cli import main

raise SystemExit(main())
