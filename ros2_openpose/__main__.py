"""``python -m ros2_openpose``: the offline command line (see cli.py)."""
from .cli import main

raise SystemExit(main())
