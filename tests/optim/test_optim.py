"""create_optimizer: real steps on a Conv+BN+Dense net against the update rules written out in numpy."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn, ops
from mindspore.common.initializer import Normal

from mindcv.errors import ConfigError
from mindcv.optim import create_optimizer, is_norm_or_bias
from mindcv.scheduler import create_scheduler

LR, WD, MOMENTUM = 0.1, 0.01, 0.9
NAMES = ["conv.weight", "bn.gamma", "bn.beta", "fc.weight", "fc.bias"]


def f32(x):
    """Hyper-parameters as MindSpore's kernels hold them (float32)."""
    return float(np.float32(x))


class TinyNet(nn.Cell):
    def __init__(self):
        super().__init__()
        # unit-scale weights, so that gradients and updates are far above float32 rounding
        self.conv = nn.Conv2d(2, 3, 3, pad_mode="valid", weight_init=Normal(1.0))
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Dense(3, 2, weight_init=Normal(1.0), bias_init=Normal(1.0))

    def construct(self, x):
        return self.fc(self.bn(self.conv(x)).mean(axis=(2, 3)))


def tiny_net():
    ms.set_seed(7)
    net = TinyNet()
    assert [p.name for p in net.trainable_params()] == NAMES
    return net


def batch(seed):
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((4, 2, 5, 5)).astype(np.float32)
    return Tensor(images), Tensor(rng.integers(0, 2, 4).astype(np.int32))


def step(net, optimizer, seed):
    """One real training step; returns the parameters before it and their gradients (float64)."""
    before = [p.asnumpy().astype(np.float64) for p in optimizer.parameters]
    grad_fn = ms.value_and_grad(nn.WithLossCell(net, nn.CrossEntropyLoss()), None, optimizer.parameters)
    _, grads = grad_fn(*batch(seed))
    optimizer(grads)
    return before, [g.asnumpy().astype(np.float64) for g in grads]


def auto_decay(name):
    """MindSpore's default filter ('auto'): no decay on names holding 'gamma' or 'beta'."""
    return "gamma" not in name and "beta" not in name


def check_two_steps(update, opt, **kwargs):
    """Run two steps and compare with `update(param, grad, state, step, decays) -> (param, state)`."""
    net = tiny_net()
    optimizer = create_optimizer(net, opt, lr=LR, weight_decay=WD, weight_decay_filter="auto", **kwargs)
    states = [None] * len(NAMES)
    for t in (1, 2):
        params, grads = step(net, optimizer, seed=t)
        for i, (name, p, g) in enumerate(zip(NAMES, params, grads)):
            expected, states[i] = update(p, g, states[i], t, auto_decay(name))
            moved = optimizer.parameters[i].asnumpy() - p
            np.testing.assert_allclose(moved, expected - p, rtol=1e-4, atol=1e-7, err_msg=f"{opt} step {t} {name}")
            assert np.abs(moved).min() > 1e-4  # the step moved every entry, far above rounding


@pytest.mark.parametrize("opt, nesterov", [("momentum", False), ("momentum", True), ("nesterov", False), ("sgd", True)])
def test_momentum_and_nesterov(opt, nesterov):
    use_nesterov = nesterov or opt == "nesterov"

    def update(p, g, velocity, t, decays):
        g = g + WD * p if decays else g  # L2 decay joins the gradient
        velocity = g if velocity is None else MOMENTUM * velocity + g
        return p - LR * (g + MOMENTUM * velocity if use_nesterov else velocity), velocity

    check_two_steps(update, opt, momentum=MOMENTUM, nesterov=nesterov)


@pytest.mark.parametrize("momentum", [0.0, MOMENTUM])
def test_sgd(momentum):
    def update(p, g, velocity, t, decays):
        g = g + WD * p if decays else g
        velocity = g if velocity is None else momentum * velocity + g  # first step: velocity = gradient
        return p - LR * velocity, velocity

    check_two_steps(update, "sgd", momentum=momentum)


def test_rmsprop_paper_recipe():
    """decay 0.9, momentum 0.9; MindSpore starts the mean square at one (as TF1 did)."""
    decay, eps = f32(0.9), 1e-10

    def update(p, g, state, t, decays):
        mean_square, moment = state or (np.ones_like(p), np.zeros_like(p))
        g = g + WD * p if decays else g
        mean_square = decay * mean_square + (1 - decay) * g * g
        moment = MOMENTUM * moment + LR * g / np.sqrt(mean_square + eps)
        return p - moment, (mean_square, moment)

    check_two_steps(update, "rmsprop", momentum=MOMENTUM, eps=eps)


def test_rmsprop_passes_decay_through():
    decay = 0.5

    def update(p, g, state, t, decays):
        mean_square, moment = state or (np.ones_like(p), np.zeros_like(p))
        g = g + WD * p if decays else g
        mean_square = decay * mean_square + (1 - decay) * g * g
        moment = MOMENTUM * moment + LR * g / np.sqrt(mean_square + 1e-10)
        return p - moment, (mean_square, moment)

    check_two_steps(update, "rmsprop", momentum=MOMENTUM, decay=decay)


def adam_moments(g, state, beta1, beta2):
    m, v = state or (0.0, 0.0)
    m = f32(beta1) * m + (1 - f32(beta1)) * g
    v = f32(beta2) * v + (1 - f32(beta2)) * g * g
    return m, v


def test_adam_first_step_is_lr_times_sign():
    eps = 1e-8

    def update(p, g, state, t, decays):
        g = g + WD * p if decays else g  # nn.Adam: L2 decay on the gradient
        m, v = adam_moments(g, state, 0.9, 0.999)
        step_size = LR * np.sqrt(1 - f32(0.999) ** t) / (1 - f32(0.9) ** t)  # bias correction
        new = p - step_size * m / (np.sqrt(v) + eps)
        clear = np.abs(g) > 1e-2  # where eps is negligible
        if t == 1:  # bias-corrected first step: lr * sign(g)
            np.testing.assert_allclose((new - p)[clear], -LR * np.sign(g)[clear], rtol=1e-4)
        return new, (m, v)

    check_two_steps(update, "adam", eps=eps)


def test_adamw_decoupled_decay_without_bias_correction():
    eps = 1e-8

    def update(p, g, state, t, decays):
        m, v = adam_moments(g, state, 0.9, 0.999)
        direction = m / (np.sqrt(v) + eps)
        clear = np.abs(g) > 1e-2  # where eps is negligible
        if t == 1:  # no bias correction: (1 - beta1) / sqrt(1 - beta2) = 3.16 times sign(g)
            np.testing.assert_allclose(direction[clear], (0.1 / np.sqrt(0.001) * np.sign(g))[clear], rtol=1e-4)
        return p - LR * (direction + (WD * p if decays else 0.0)), (m, v)

    check_two_steps(update, "adamw", eps=eps)


def test_lamb_is_refused_on_cpu():
    with pytest.raises(ConfigError, match="lamb.*CPU"):
        create_optimizer(tiny_net(), "lamb")


@pytest.mark.parametrize(
    "weight_decay_filter, decayed",
    [
        ("disable", NAMES),
        ("auto", ["conv.weight", "fc.weight", "fc.bias"]),
        ("norm_and_bias", ["conv.weight", "fc.weight"]),
    ],
)
@pytest.mark.parametrize("opt", ["momentum", "adamw"])
def test_weight_decay_filter(opt, weight_decay_filter, decayed):
    """With zero gradients only weight decay moves a parameter, so the moved ones are the decayed ones."""
    net = tiny_net()
    for param in net.trainable_params():  # BN beta starts at zero, where decay would not show
        param.set_data(Tensor(np.full(param.shape, 2.0, np.float32)))
    optimizer = create_optimizer(net, opt, lr=LR, weight_decay=0.5, weight_decay_filter=weight_decay_filter)
    before = {p.name: p.asnumpy().copy() for p in optimizer.parameters}
    optimizer(tuple(ops.zeros_like(p) for p in optimizer.parameters))
    moved = [p.name for p in optimizer.parameters if not np.allclose(p.asnumpy(), before[p.name])]
    assert moved == decayed
    for name in decayed:  # both apply p -= lr * wd * p on the first step when the gradient is zero
        np.testing.assert_allclose(net.parameters_dict()[name].asnumpy(), before[name] * (1 - LR * 0.5), rtol=1e-5)


def test_norm_and_bias_matches_by_last_name_part():
    params = tiny_net().trainable_params()
    assert [is_norm_or_bias(p) for p in params] == [False, True, True, False, True]


def train_step_update(opt, loss_scale, sens, graph=False):
    """Weight change of one TrainOneStepCell step whose loss is multiplied by `sens`."""
    if graph:
        ms.set_context(mode=ms.GRAPH_MODE)
    net = tiny_net()
    # eps=1 keeps adamw from being blind to the gradient scale, so the check below can fail
    optimizer = create_optimizer(net, opt, lr=LR, weight_decay=WD, loss_scale=loss_scale, eps=1.0)
    before = net.fc.weight.asnumpy().copy()
    nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), optimizer, sens=sens)(*batch(0))
    return net.fc.weight.asnumpy() - before


@pytest.mark.parametrize("opt, graph", [("momentum", False), ("rmsprop", False), ("adamw", False), ("adamw", True)])
def test_loss_scale_divides_the_scaled_gradients(opt, graph):
    unscaled = train_step_update(opt, loss_scale=1.0, sens=1.0, graph=graph)
    scaled = train_step_update(opt, loss_scale=1024.0, sens=1024.0, graph=graph)
    np.testing.assert_allclose(scaled, unscaled, rtol=1e-4, atol=1e-7)
    # without the optimizer's loss_scale the update would be made from 1024x gradients
    assert not np.allclose(train_step_update(opt, loss_scale=1.0, sens=1024.0, graph=graph), unscaled, atol=1e-5)


@pytest.mark.parametrize("as_array", [False, True])
def test_per_step_learning_rates(as_array):
    lrs = create_scheduler(1, "step_decay", lr=0.1, decay_rate=0.5, decay_epochs=1, warmup_epochs=0, num_epochs=2)
    net = tiny_net()
    optimizer = create_optimizer(net, "sgd", lr=np.array(lrs) if as_array else lrs, momentum=0.0)
    for used_lr, seed in zip([0.1, 0.05], (1, 2)):
        params, grads = step(net, optimizer, seed)
        for param, p, g in zip(optimizer.parameters, params, grads):
            np.testing.assert_allclose(param.asnumpy(), p - used_lr * g, rtol=1e-5, atol=1e-7)


def test_accepts_a_list_of_parameters():
    params = tiny_net().trainable_params()
    optimizer = create_optimizer(params[:2], "Momentum")
    assert [p.name for p in optimizer.parameters] == NAMES[:2]


def test_unknown_names_suggest_the_nearest():
    with pytest.raises(ConfigError, match="unknown opt 'adamv'; did you mean 'adam'"):
        create_optimizer(tiny_net(), "adamv")
    with pytest.raises(ConfigError, match="unknown weight_decay_filter 'norm'; did you mean 'norm_and_bias'"):
        create_optimizer(tiny_net(), weight_decay_filter="norm")


@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        (dict(weight_decay=-1.0), "weight_decay"),
        (dict(loss_scale=0.0), "loss_scale"),
        (dict(lr=-0.1), "lr"),
        (dict(lr=[]), "lr"),
        (dict(opt="momentum", decay=0.9), "decay"),
        (dict(opt="nesterov", momentum=0.0), "momentum"),
        (dict(opt="adam", beta1=1.5), "beta1"),
    ],
)
def test_bad_arguments_are_named(kwargs, culprit):
    with pytest.raises(ConfigError, match=culprit):
        create_optimizer(tiny_net(), **kwargs)


def test_network_without_trainable_parameters():
    net = nn.Dense(2, 2)
    for param in net.get_parameters():
        param.requires_grad = False
    with pytest.raises(ConfigError, match="no trainable parameters"):
        create_optimizer(net)
