"""icpurse host side: authorities, logger, terminal and the `icpurse` command line."""

__version__ = "0.1.0"
