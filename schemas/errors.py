"""Errors that mean the input or configuration cannot be used (exit status 2)."""


class InputError(Exception):
    """Unusable input or configuration: a missing table or column, an unreadable file.

    The message is a one-paragraph explanation for the user: what is wrong and where.
    """
