"""The ``habla`` command line: serve the API, chat in the terminal, inspect models."""
