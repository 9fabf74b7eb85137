from .adapt import adapt_weights, load_weights
from .download import cache_dir, download_cached, file_hash, verify_hash
from .io import load_checkpoint, save_checkpoint

__all__ = [
    "adapt_weights",
    "load_weights",
    "cache_dir",
    "download_cached",
    "file_hash",
    "verify_hash",
    "load_checkpoint",
    "save_checkpoint",
]
