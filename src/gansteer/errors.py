"""The one exception type users see: a one-line message naming the bad input and what was expected."""


class GansteerError(ValueError):
    """Bad input to gansteer (a file, an option, a tensor). The CLI prints its message without a traceback."""
