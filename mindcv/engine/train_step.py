"""One compiled training step: loss scaling, overflow skipping, clipping, accumulation, EMA."""
import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops
from mindspore.communication import get_group_size
from mindspore.context import ParallelMode
from mindspore.nn.wrap.grad_reducer import DistributedGradReducer

# EMA decay ramps up over the first updates, as in MindCV: decay * (1 - exp(-updates / 2000)).
EMA_WARMUP_UPDATES = 2000.0


class NetWithLoss(nn.Cell):
    """Network + loss, with logits in float32 whatever the network's precision."""

    def __init__(self, network: nn.Cell, loss_fn: nn.Cell) -> None:
        super().__init__(auto_prefix=False)
        self.network = network
        self.loss_fn = loss_fn

    def construct(self, images: Tensor, labels: Tensor) -> Tensor:
        return self.loss_fn(self.network(images).astype(ms.float32), labels)


def _is_data_parallel() -> bool:
    return ms.get_auto_parallel_context("parallel_mode") in (ParallelMode.DATA_PARALLEL, ParallelMode.HYBRID_PARALLEL)


class TrainStep(nn.Cell):
    """Forward, backward and update for one batch; returns (loss, finite, loss_scale).

    - The loss is multiplied by `loss_scale` before backward and the gradients
      divided by it after, so the optimizer always sees true gradients.
    - `dynamic_loss_scale`: halve the scale and skip the update when gradients
      overflow, double it after `scale_window` finite steps. `drop_overflow_update`
      skips non-finite updates with a fixed scale too. Skipped steps are counted
      in the `skipped_steps` parameter (saved with checkpoints).
    - `clip_norm`: clip gradients to this global norm.
    - `accumulation_steps`: sum gradients over that many calls, update on the last.
    - `ema_decay`: keep `ema.*` copies of the trainable weights.
    """

    def __init__(
        self,
        network_with_loss: nn.Cell,
        optimizer: nn.Optimizer,
        loss_scale: float = 1.0,
        dynamic_loss_scale: bool = False,
        drop_overflow_update: bool = False,
        scale_factor: float = 2.0,
        scale_window: int = 2000,
        clip_norm: float = 0.0,
        accumulation_steps: int = 1,
        ema_decay: float = 0.0,
    ) -> None:
        super().__init__(auto_prefix=False)
        self.network = network_with_loss
        self.network.set_grad()
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.grad = ops.GradOperation(get_by_list=True, sens_param=True)
        self.reducer = DistributedGradReducer(self.weights, True, get_group_size()) if _is_data_parallel() else None

        self.loss_scale = Parameter(Tensor(loss_scale, ms.float32), name="loss_scale", requires_grad=False)
        self.dynamic_loss_scale = dynamic_loss_scale
        # A fixed scale of 1 compiles without the scale multiply and the ~160 gradient divisions (about 1.5% of a step).
        self.scaled = dynamic_loss_scale or loss_scale != 1.0
        self.check_overflow = dynamic_loss_scale or drop_overflow_update
        self.scale_factor = scale_factor
        self.scale_window = scale_window
        self.good_steps = Parameter(Tensor(0, ms.int32), name="loss_scale_good_steps", requires_grad=False)
        self.skipped_steps = Parameter(Tensor(0, ms.int32), name="skipped_steps", requires_grad=False)

        self.clip_norm = clip_norm
        self.accumulation_steps = accumulation_steps
        if accumulation_steps > 1:
            self.accumulated = self.weights.clone(prefix="accum", init="zeros")
            self.micro_step = Parameter(Tensor(0, ms.int32), name="accum_micro_step", requires_grad=False)

        self.use_ema = ema_decay > 0
        self.ema_decay = ema_decay
        if self.use_ema:
            self.ema_weights = self.weights.clone(prefix="ema", init="same")
            self.ema_updates = Parameter(Tensor(0.0, ms.float32), name="ema_updates", requires_grad=False)

    def _update_loss_scale(self, finite: Tensor) -> Tensor:
        good = ops.select(finite, self.good_steps + 1, ops.zeros_like(self.good_steps))
        grow = good >= self.scale_window
        grown = ops.select(grow, self.loss_scale * self.scale_factor, self.loss_scale)
        shrunk = ops.maximum(self.loss_scale / self.scale_factor, ops.ones_like(self.loss_scale))
        new_scale = ops.select(finite, grown, shrunk)
        good = ops.select(grow, ops.zeros_like(good), good)
        return ops.depend(ops.assign(self.loss_scale, new_scale), ops.assign(self.good_steps, good))

    def _update_ema(self) -> Tensor:
        updates = self.ema_updates + 1
        decay = self.ema_decay * (1 - ops.exp(-updates / EMA_WARMUP_UPDATES))
        done = tuple(ops.assign(e, e * decay + w * (1 - decay)) for e, w in zip(self.ema_weights, self.weights))
        return ops.depend(ops.assign(self.ema_updates, updates), done)

    def _apply(self, grads: tuple, finite: Tensor) -> Tensor:
        if self.clip_norm > 0:
            grads = ops.clip_by_global_norm(grads, self.clip_norm)
        # Both branches return `finite`, since graph mode needs branches of one type.
        if self.check_overflow:
            if finite:
                applied = ops.depend(finite, self.optimizer(grads))
            else:
                applied = ops.depend(finite, ops.assign_add(self.skipped_steps, Tensor(1, ms.int32)))
        else:
            applied = ops.depend(finite, self.optimizer(grads))
        if self.use_ema:
            applied = ops.depend(self._update_ema(), applied)
        return applied

    def construct(self, images: Tensor, labels: Tensor) -> tuple:
        scale = self.loss_scale.value()
        loss = self.network(images, labels)
        sens = ops.ones_like(loss) * scale.astype(loss.dtype) if self.scaled else ops.ones_like(loss)
        grads = self.grad(self.network, self.weights)(images, labels, sens)
        if self.reducer is not None:
            grads = self.reducer(grads)
        if self.scaled:
            grads = tuple(g / scale.astype(g.dtype) for g in grads)
        finite = ops.isfinite(loss)
        if self.check_overflow:
            finite = ops.logical_and(finite, ops.stack([ops.isfinite(g).all() for g in grads]).all())
        if self.dynamic_loss_scale:
            loss = ops.depend(loss, self._update_loss_scale(finite))
        if self.accumulation_steps > 1:
            summed = tuple(ops.assign_add(a, g) for a, g in zip(self.accumulated, grads))
            step = ops.depend(self.micro_step + 1, summed)
            ops.assign(self.micro_step, step)
            if step % self.accumulation_steps == 0:
                averaged = tuple(a / self.accumulation_steps for a in self.accumulated)
                finite = ops.stack([ops.isfinite(g).all() for g in averaged]).all()
                loss = ops.depend(loss, self._apply(averaged, finite))
                loss = ops.depend(loss, tuple(ops.assign(a, ops.zeros_like(a)) for a in self.accumulated))
        else:
            loss = ops.depend(loss, self._apply(grads, finite))
        return loss, finite, scale
