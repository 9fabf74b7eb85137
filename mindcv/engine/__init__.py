from .distributed import init_distributed
from .evaluate import evaluate
from .train_step import NetWithLoss, TrainStep
from .trainer import TrainingDiverged, train

__all__ = ["init_distributed", "evaluate", "NetWithLoss", "TrainStep", "TrainingDiverged", "train"]
