"""Show the settings a run would use: python config.py -c CONFIG [--key value ...]

Defaults, then the YAML file, then the command line; `train.py` and `validate.py`
read their settings the same way (mindcv.config).
"""
import sys

from mindcv.config import create_parser, parse_args, parse_config
from mindcv.errors import exit_on_user_error

__all__ = ["create_parser", "parse_args", "parse_config"]


@exit_on_user_error
def main(argv=None) -> int:
    cfg = parse_config(argv, description="Print the resolved config as YAML")
    print(cfg.to_yaml(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
