"""User-facing errors: raised for bad input, printed by the CLI without a traceback."""


class GanforgeError(Exception):
    """A problem the user can fix (bad file, bad config value, missing data). The message says what and where."""
