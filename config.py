"""Show the settings a run would use: python config.py -c CONFIG [--key value ...]

Defaults, then the YAML file, then the command line; `train.py` and `validate.py`
read their settings the same way (mindcv.config).
"""
import sys

import yaml

from mindcv.config import config_to_dict, create_parser, parse_args
from mindcv.errors import exit_on_user_error

__all__ = ["create_parser", "parse_args"]


@exit_on_user_error
def main(argv=None) -> int:
    args = parse_args(argv, description="Print the resolved config as YAML")
    print(yaml.safe_dump(config_to_dict(args), sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
