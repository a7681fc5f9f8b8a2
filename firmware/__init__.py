"""The board glue as the host installs it: the package `icpurse.firmware` (pyproject.toml maps
it onto firmware/), so that icpurse.firmware_files finds main.py, the glue and boards/*.json
in a checkout and in an installed wheel alike. Only the host imports it; it is never copied to a
board, and importing it runs nothing (main.py starts the wallet)."""
