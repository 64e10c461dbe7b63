"""User-facing errors: the CLI prints them as one line and exits with code 2."""


class HalibenchError(Exception):
    """An error caused by bad input (a file, an option, a name); the message says what to do."""


class CheckpointError(HalibenchError):
    """A checkpoint is missing, corrupted, or does not match its config or hash."""


class DatasetError(HalibenchError):
    """A dataset file is missing, corrupt, or does not verify."""
