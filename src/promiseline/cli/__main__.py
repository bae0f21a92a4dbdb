"""`python -m promiseline.cli`: the `promiseline` command."""

from promiseline.cli import main

main()
