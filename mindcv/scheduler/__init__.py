from .scheduler_factory import SCHEDULER_NAMES, create_scheduler

__all__ = ["SCHEDULER_NAMES", "create_scheduler"]
