"""Errors a user can fix. Entry points print their message without a traceback."""
import argparse
import difflib
import functools
import sys
from typing import Callable, Iterable, NoReturn


def did_you_mean(word: object, candidates: Iterable, n: int = 1, cutoff: float = 0.4) -> str:
    """`; did you mean 'x'?` naming the closest candidates to `word`, or "" when none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=n, cutoff=cutoff)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


class MindCVError(Exception):
    """Base of every error caused by user input (files, configs, names)."""


class ConfigError(MindCVError):
    """A config key or value is wrong."""


class CheckpointError(MindCVError):
    """A checkpoint file is missing, unreadable or does not fit the model."""


class DataError(MindCVError):
    """A data set folder, file or image is missing or unreadable."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad command line as a ConfigError (one `error:` line) instead of usage + exit."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see {self.prog} --help)")


def exit_on_user_error(main: Callable[..., int]) -> Callable[..., int]:
    """Wrap an entry point: a MindCVError, or an OSError on a file the user named, prints one line
    `error: ...` and exits with code 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except MindCVError as err:
            print(f"error: {err}", file=sys.stderr)
        except OSError as err:  # e.g. a folder where a file was expected, a full disk, a read-only folder
            where = f"{err.filename}: " if err.filename else ""
            print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        return 2

    return wrapper
