"""The plain PyTorch loop of `benchmark.py --suite tta`: channels_last MobileNetV2, PIL data in DataLoader
worker processes, SGD with momentum on the learning rate of every step, label smoothing, exact validation
every epoch. The recipe (a JSON file written by benchmarks/tta.py from the resolved train.py config)
fixes everything, so this loop and train.py run the same training.

    python -m benchmarks.tta_torch RECIPE.json OUT.jsonl

OUT gets one JSON line per epoch: train and validation seconds and images/s, the epoch's mean loss, top-1.
Imports torch, PIL and numpy only: its start-up time and memory are a PyTorch user's.
"""
import json
import sys
import time
from functools import partial
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from .peers_torch import ImageFolder
from .pil_pipeline import eval_sample, train_sample
from .torch_mobilenetv2 import TorchMobileNetV2

def _loader(recipe: dict, split: str, train: bool) -> DataLoader:
    size, mean, std = recipe["image_resize"], recipe["mean"], recipe["std"]
    transform = (partial(train_sample, size=size, scale=tuple(recipe["scale"]), ratio=tuple(recipe["ratio"]),
                         hflip=recipe["hflip"], mean=mean, std=std)
                 if train else partial(eval_sample, size=size, mean=mean, std=std))
    return DataLoader(ImageFolder(Path(recipe["data_dir"]) / split, transform),
                      batch_size=recipe["batch_size"] if train else recipe["val_batch_size"], shuffle=train,
                      drop_last=train and recipe["drop_remainder"], num_workers=recipe["workers"], persistent_workers=True)


def _optimizer(model: torch.nn.Module, recipe: dict) -> torch.optim.Optimizer:
    def exempt(param: torch.nn.Parameter) -> bool:  # BatchNorm scale and shift, biases
        return recipe["no_decay_on_norm_and_bias"] and param.ndim <= 1

    groups = [{"params": [p for p in model.parameters() if not exempt(p)], "weight_decay": recipe["weight_decay"]},
              {"params": [p for p in model.parameters() if exempt(p)], "weight_decay": 0.0}]
    return torch.optim.SGD([g for g in groups if g["params"]], lr=recipe["lrs"][0], momentum=recipe["momentum"],
                           nesterov=recipe["nesterov"])


def main(recipe_path: str, out_path: str) -> None:
    recipe = json.loads(Path(recipe_path).read_text())
    torch.set_num_threads(recipe["threads"])
    torch.set_num_interop_threads(1)
    torch.manual_seed(recipe["seed"])
    train_data, val_data = _loader(recipe, recipe["train_split"], True), _loader(recipe, recipe["val_split"], False)
    model = TorchMobileNetV2(recipe["width"], recipe["num_classes"]).to(memory_format=torch.channels_last)
    optimizer = _optimizer(model, recipe)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=recipe["label_smoothing"])
    lrs, step = recipe["lrs"], 0
    with open(out_path, "w") as out:
        for epoch in range(recipe["epochs"]):
            model.train()
            start, loss_sum, seen = time.perf_counter(), 0.0, 0
            for images, labels in train_data:
                for group in optimizer.param_groups:
                    group["lr"] = lrs[step]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(images.to(memory_format=torch.channels_last)), labels)
                loss.backward()
                optimizer.step()
                loss_sum += loss.item()  # read back every step, as train.py does
                seen += len(labels)
                step += 1
            train_s = time.perf_counter() - start
            model.eval()
            start, correct, count = time.perf_counter(), 0, 0
            with torch.inference_mode():
                for images, labels in val_data:
                    logits = model(images.to(memory_format=torch.channels_last))
                    correct += int((logits.argmax(1) == labels).sum())
                    count += len(labels)
            val_s = time.perf_counter() - start
            out.write(json.dumps({
                "epoch": epoch + 1, "train_loss": loss_sum / len(train_data), "train_s": train_s,
                "train_images_per_s": seen / train_s, "val_s": val_s, "val_images_per_s": count / val_s,
                "val_top1": correct / count,
            }) + "\n")
            out.flush()


if __name__ == "__main__":
    main(*sys.argv[1:])
