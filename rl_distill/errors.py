"""The one exception type the command line turns into a one-line message and exit status 2."""


class InputError(ValueError):
    """Bad input from the user: a flag, a file, an environment id. The message is shown as is."""
