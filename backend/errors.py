"""Exceptions whose message is meant for a GIS analyst, not a developer."""


class UserInputError(ValueError):
    """Bad input: the message says what is wrong and what to do about it."""


class CancelledError(RuntimeError):
    """The run was cancelled (signal from the plugin or Ctrl+C)."""
