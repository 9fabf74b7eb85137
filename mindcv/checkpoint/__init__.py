from .adapt import adapt_weights, load_weights
from .download import download_cached, verify_hash
from .io import load_checkpoint, save_checkpoint

__all__ = [
    "adapt_weights",
    "load_weights",
    "download_cached",
    "verify_hash",
    "load_checkpoint",
    "save_checkpoint",
]
