"""The names of the four tables, importable without pandas or pandera: the command line
checks that a source's files are there before it loads the heavy libraries."""

TABLES = ("orders", "refunds", "return_addresses", "messages")
REQUIRED_TABLES = ("orders", "refunds", "return_addresses")
OPTIONAL_TABLES = ("messages",)
