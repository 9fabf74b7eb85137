"""Class names for printed and saved results: ImageNet's, the built-in data sets', a file's or a folder's."""
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Union

from ..data import CIFAR10_CLASSES, fashion_mnist_class_names, load_class_map
from ..data.dataset_factory import dataset_kind
from ..errors import ConfigError, DataError

IMAGENET_CLASS_NAMES_FILE = Path(__file__).resolve().parents[1] / "data" / "assets" / "imagenet_class_names.txt"


def _read_names(path: Union[str, Path]) -> List[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read label names ({getattr(err, 'strerror', None) or err})") from None
    names = [line.strip() for line in lines if line.strip()]
    if not names:
        raise DataError(f"{path}: label names file is empty (expected one class name per line)")
    return names


def imagenet_class_names() -> List[str]:
    """The 1000 ImageNet-1k class names (short WordNet names), in class-index order."""
    return _read_names(IMAGENET_CLASS_NAMES_FILE)


BUILTIN_LABEL_NAMES: Dict[str, Callable[[], List[str]]] = {
    "imagenet": imagenet_class_names,
    "fashion_mnist": fashion_mnist_class_names,
    "cifar10": lambda: list(CIFAR10_CLASSES),
}


def load_label_names(spec: str, num_classes: int) -> List[str]:
    """Names of a built-in set (imagenet, fashion_mnist, cifar10) or of a file with one name per line.

    The count must equal `num_classes`, so indices and names cannot silently drift apart.
    """
    source = BUILTIN_LABEL_NAMES.get(spec.lower())
    if source is None and not Path(spec).is_file():
        raise ConfigError(f"label_names '{spec}': neither a file nor one of {', '.join(BUILTIN_LABEL_NAMES)}")
    names = source() if source else _read_names(spec)
    if len(names) != num_classes:
        raise ConfigError(f"label_names '{spec}' has {len(names)} names but num_classes is {num_classes}")
    return names


def dataset_class_indexing(
    dataset_name: str, class_indexing: Optional[Mapping[str, int]] = None, class_map: Optional[str] = None
) -> Dict[str, int]:
    """Class name -> index of every class a data set knows.

    CIFAR-10 and the embedded set have fixed names; a folder's are its class folders
    (`class_indexing`, e.g. from `dataset.get_class_indexing()`), plus with a class
    map every name the map lists.
    """
    kind = dataset_kind(dataset_name)
    if kind == "cifar10":
        return {name: index for index, name in enumerate(CIFAR10_CLASSES)}
    if kind == "embedded":
        return {name: index for index, name in enumerate(fashion_mnist_class_names())}
    return {**(load_class_map(class_map) if class_map else {}), **(class_indexing or {})}


def index_names(class_indexing: Mapping[str, int], num_classes: int) -> List[str]:
    """The name of every class index below `num_classes`; an index without a name is shown as its number."""
    names = [str(index) for index in range(num_classes)]
    for name, index in class_indexing.items():
        if index < num_classes:
            names[index] = name
    return names
