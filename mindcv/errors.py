"""Errors a user can fix. Entry points print their message without a traceback."""


class MindCVError(Exception):
    """Base of every error caused by user input (files, configs, names)."""


class ConfigError(MindCVError):
    """A config key or value is wrong."""


class CheckpointError(MindCVError):
    """A checkpoint file is missing, unreadable or does not fit the model."""


class DataError(MindCVError):
    """A data set folder, file or image is missing or unreadable."""
