from .distributed import end_process, init_distributed
from .evaluate import evaluate
from .labels import imagenet_class_names, load_label_names
from .predict import INFER_OPTIONS, Prediction, infer, predict
from .preemption import TrainingStopped
from .train_step import NetWithLoss, TrainStep
from .trainer import TrainingDiverged, train
from .validation import VALIDATE_OPTIONS, ValidationReport, validate

__all__ = [
    "end_process",
    "init_distributed",
    "evaluate",
    "imagenet_class_names",
    "load_label_names",
    "INFER_OPTIONS",
    "Prediction",
    "infer",
    "predict",
    "NetWithLoss",
    "TrainStep",
    "TrainingDiverged",
    "TrainingStopped",
    "train",
    "VALIDATE_OPTIONS",
    "ValidationReport",
    "validate",
]
