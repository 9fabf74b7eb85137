"""Facts shared by models and data pipelines (neither imports the other)."""

IMAGENET_DEFAULT_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_DEFAULT_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
DEFAULT_CROP_PCT = 0.875
# TensorFlow/Keras "inception" preprocessing: pixels scaled to [-1, 1].
IMAGENET_INCEPTION_MEAN = (127.5, 127.5, 127.5)
IMAGENET_INCEPTION_STD = (127.5, 127.5, 127.5)
