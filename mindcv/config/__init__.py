from .parser import config_to_dict, create_parser, load_yaml, parse_args, save_config
from .schema import OPTIONS, SCHEMA, Option

__all__ = ["config_to_dict", "create_parser", "load_yaml", "parse_args", "save_config", "OPTIONS", "SCHEMA", "Option"]
