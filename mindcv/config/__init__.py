"""Settings: the schema of every key, the YAML/command-line parser, and the resolved per-concern sections."""
from .parser import create_parser, load_yaml, parse_args
from .schema import OPTIONS, SCHEMA, Option
from .settings import (
    AugmentationConfig,
    CheckpointConfig,
    DataConfig,
    EvalConfig,
    LossConfig,
    ModelConfig,
    OptimizerConfig,
    RunConfig,
    SchedulerConfig,
    SystemConfig,
    TrainConfig,
    available_cpus,
    parse_config,
    resolve_config,
    resolve_eval,
)

__all__ = [
    "create_parser", "load_yaml", "parse_args", "OPTIONS", "SCHEMA", "Option",
    "AugmentationConfig", "CheckpointConfig", "DataConfig", "EvalConfig", "LossConfig", "ModelConfig",
    "OptimizerConfig", "RunConfig", "SchedulerConfig", "SystemConfig", "TrainConfig",
    "available_cpus", "parse_config", "resolve_config", "resolve_eval",
]
