"""Data pipeline on mindspore.dataset: datasets, transforms, loaders, and an image checker."""
from .auto_augment import AugMix, parse_auto_augment
from .image_check import find_unreadable_images, unreadable_image_error
from .cifar import CIFAR10_CLASSES
from .dataset_factory import create_dataset, dataset_files
from .embedded import fashion_mnist_class_names, prepare_fashion_mnist
from .folder import find_classes, load_class_map
from .loader import create_loader
from .mixup import Mixup
from .transforms_factory import create_transforms

__all__ = [
    "AugMix",
    "CIFAR10_CLASSES",
    "Mixup",
    "create_dataset",
    "dataset_files",
    "create_loader",
    "create_transforms",
    "fashion_mnist_class_names",
    "find_classes",
    "find_unreadable_images",
    "load_class_map",
    "parse_auto_augment",
    "prepare_fashion_mnist",
    "unreadable_image_error",
]
