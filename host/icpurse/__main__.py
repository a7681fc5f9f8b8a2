"""`python -m icpurse` runs the command line."""

from icpurse.cli import main

raise SystemExit(main())
