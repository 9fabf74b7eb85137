"""Feature extraction: the maps of a classification network at chosen stage outputs (detection, OCR backbones)."""
from typing import Dict, List, Optional, Sequence

from mindspore import Tensor, nn

from ..errors import MindCVError


def select_features(feature_info: Sequence[Dict], out_indices: Optional[Sequence[int]]) -> List[int]:
    """`out_indices` checked against `feature_info` (negative counts from the end), sorted; None: every entry."""
    count = len(feature_info)
    if out_indices is None:
        return list(range(count))
    indices = list(out_indices)
    if not indices or not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
        raise MindCVError(f"out_indices must be a non-empty list of integers, got {out_indices!r}")
    bad = [i for i in indices if not -count <= i < count]
    if bad:
        raise MindCVError(f"out_indices {bad} out of range: the model has {count} feature stages (0..{count - 1})")
    resolved = sorted({i % count for i in indices})
    if len(resolved) != len(indices):
        raise MindCVError(f"out_indices {indices} name a stage twice")
    return resolved


class FeatureExtractor(nn.Cell):
    """The feature maps of `network` after the stages `out_indices` of its `feature_info`, as a tuple.

    It keeps the network's `features` cell under the same attribute, so parameter names
    equal the classification model's (`features.3.layers.0.weight`, ...) and its
    checkpoints load as they are, minus the classifier. Cells after the last selected
    stage are dropped. `feature_info` lists the selected stages (`chs`, `reduction`,
    `name`); `out_channels` their channel counts.
    """

    def __init__(self, network: nn.Cell, out_indices: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        if not hasattr(network, "feature_info") or not hasattr(network, "features"):
            raise MindCVError(f"{type(network).__name__} has no feature_info: it cannot be used as a backbone")
        self.out_indices = select_features(network.feature_info, out_indices)
        self.feature_info = [dict(network.feature_info[i]) for i in self.out_indices]
        # 'features.7' -> position 7 in the features cell
        positions = [int(info["name"].rsplit(".", 1)[1]) for info in self.feature_info]
        self.features = nn.SequentialCell(list(network.features.cell_list)[: positions[-1] + 1])
        self.return_positions = tuple(positions)

    @property
    def out_channels(self) -> List[int]:
        return [info["chs"] for info in self.feature_info]

    def construct(self, x: Tensor) -> tuple:
        outputs = ()
        for position, cell in enumerate(self.features.cell_list):
            x = cell(x)
            if position in self.return_positions:
                outputs = outputs + (x,)
        return outputs
