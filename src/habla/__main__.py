"""`python -m habla` runs the command-line interface."""

from habla.interfaces.cli.main import main

raise SystemExit(main())
