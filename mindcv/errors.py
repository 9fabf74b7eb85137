"""Errors a user can fix. Entry points print their message without a traceback."""


class MindCVError(Exception):
    """Base of every error caused by user input (files, configs, names)."""


class ConfigError(MindCVError):
    """A config key or value is wrong."""


class CheckpointError(MindCVError):
    """A checkpoint file is missing, unreadable or does not fit the model."""


class DataError(MindCVError):
    """A data set folder, file or image is missing or unreadable."""


def exit_on_user_error(main):
    """Wrap an entry point: a MindCVError prints one line `error: ...` and exits with code 2."""
    import functools
    import sys

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except MindCVError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2

    return wrapper
