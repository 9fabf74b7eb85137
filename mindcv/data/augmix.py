"""AugMix (Hendrycks et al., 2020) on PIL: MindSpore has no AugMix op."""
import mindspore.dataset as ds
import numpy as np
from PIL import Image, ImageOps

_LEVELS = 10.0  # severity scale: 10 = full strength


def _rotate(image: Image.Image, strength: float, fill: tuple) -> Image.Image:
    return image.rotate(30.0 * strength, resample=Image.Resampling.BILINEAR, fillcolor=fill)


def _transform(image: Image.Image, matrix: tuple, fill: tuple) -> Image.Image:
    return image.transform(
        image.size, Image.Transform.AFFINE, matrix, resample=Image.Resampling.BILINEAR, fillcolor=fill
    )


def _shear_x(image: Image.Image, strength: float, fill: tuple) -> Image.Image:
    return _transform(image, (1, 0.3 * strength, 0, 0, 1, 0), fill)


def _shear_y(image: Image.Image, strength: float, fill: tuple) -> Image.Image:
    return _transform(image, (1, 0, 0, 0.3 * strength, 1, 0), fill)


def _translate_x(image: Image.Image, strength: float, fill: tuple) -> Image.Image:
    return _transform(image, (1, 0, strength * image.width / 3, 0, 1, 0), fill)


def _translate_y(image: Image.Image, strength: float, fill: tuple) -> Image.Image:
    return _transform(image, (1, 0, 0, 0, 1, strength * image.height / 3), fill)


def _posterize(image: Image.Image, strength: float, _fill: tuple) -> Image.Image:
    return ImageOps.posterize(image, 8 - int(4 * abs(strength)))


def _solarize(image: Image.Image, strength: float, _fill: tuple) -> Image.Image:
    return ImageOps.solarize(image, 256 - int(256 * abs(strength)))


def _auto_contrast(image: Image.Image, _strength: float, _fill: tuple) -> Image.Image:
    return ImageOps.autocontrast(image)


def _equalize(image: Image.Image, _strength: float, _fill: tuple) -> Image.Image:
    return ImageOps.equalize(image)


# AugMix leaves out colour, contrast, brightness and sharpness: they overlap ImageNet-C's corruptions
_AUGMIX_OPS = (
    _auto_contrast, _equalize, _posterize, _rotate, _solarize, _shear_x, _shear_y, _translate_x, _translate_y
)


class AugMix:
    """AugMix on an HWC uint8 array: a Beta-weighted blend of the image and a
    Dirichlet-weighted mix of `width` chains of random operations.

    The random generator is seeded from `mindspore.dataset.config.get_seed()`.
    """

    def __init__(self, severity: int = 3, width: int = 3, depth: int = 0, alpha: float = 1.0, fill=(128, 128, 128)):
        self.severity = severity
        self.width = width
        self.depth = depth
        self.alpha = alpha
        self.fill = tuple(fill)
        self.rng = np.random.default_rng(ds.config.get_seed())

    def _chain(self, image: Image.Image) -> np.ndarray:
        depth = self.depth or int(self.rng.integers(1, 4))
        for _ in range(depth):
            operation = _AUGMIX_OPS[self.rng.integers(len(_AUGMIX_OPS))]
            strength = self.rng.uniform(0.1, self.severity) / _LEVELS * self.rng.choice((-1.0, 1.0))
            image = operation(image, strength, self.fill)
        return np.asarray(image, np.float32)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        source = Image.fromarray(image)
        weights = self.rng.dirichlet([self.alpha] * self.width)
        mixed = sum(weight * self._chain(source) for weight in weights)
        blend = self.rng.beta(self.alpha, self.alpha)
        out = (1.0 - blend) * image.astype(np.float32) + blend * mixed
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
