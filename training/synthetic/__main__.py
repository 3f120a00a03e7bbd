"""``python -m training.synthetic ...`` (see training/synthetic/cli.py)."""
from .cli import main

raise SystemExit(main())
