"""`TrainConfig`: the settings of one tfquant-train run, checked once, whoever builds them.

    config = TrainConfig(model="small_cnn", dataset="fashion_mnist", method="bc", recipe="binary-adam", epochs=5)
    history = tfquant.cli.train.train(config)

The command line is one way to build it (`tfquant.cli.train.config_from_args`); the main job builds it
directly. Construction checks the settings that depend on each other and fills the defaults that depend on
others (``epochs``: the paper's 160, 90 for imagenet; ``out``: runs/train/MODEL-DATASET-METHOD; ``schedule``:
"proportional", "cosine" under a recipe), raising `BadInput` with the fix. Imports neither Keras nor TensorFlow.

Learning-rate schedules (``schedule``): "proportional" divides ``lr`` by 10 after epochs round(82/160 E) and
round(122/160 E) (the paper's drops at 82 and 122 of 160, scaled to E epochs; imagenet 30 and 60 of 90), "none"
keeps ``lr``, "82,122" lists the drop epochs, "cosine" is `tfquant.recipes.cosine_warmup` (linear warm-up to
``lr`` over the first 10% of the steps, then ``lr (1 + cos(pi t'/T'))/2`` down to 0).

``recipe="binary-adam"`` is `tfquant.recipes.binary_adam`: BC-Adam, binary conv kernels except the first
conv's, the cosine schedule. ``clip=False`` (``--no-clip``) is BC without its clip of w_r (eq. 7 as printed).
``full_precision_l2=c`` (``--full-precision-l2``) is Torch7's weight decay as the paper's Fig. 7 ran it: ``c w_r``
added to BC's gradient of w_r; ``weight_decay`` is the L2 penalty ``(wd/2)|w|^2`` on the kernels the model uses.

`to_dict` is what a resumed run must share with the run it continues (it leaves out ``progress`` and
``verbose``); `saved_settings` reads the dict of an older progress.json, which lacks the settings added since.
"""

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from tfquant.cli.common import BadInput

# The names of tfquant.models.MODELS and tfquant.data.DATASETS (tests keep them equal): listed here so that
# --help and argument errors answer without importing Keras and TensorFlow.
MODELS = ("vgg9", "vgg_bc", "resnet56", "wrn56_2", "resnet18", "small_cnn")
WIDTH_MODELS = ("vgg9", "vgg_bc")
DATASETS = ("fashion_mnist", "cifar10", "cifar100", "imagenet")
METHODS = ("adam", "bc", "sr", "r")
OPTIMIZERS = ("adam", "sgd")
QUANTIZERS = ("binary", "uniform", "scaled_binary")
ROUNDINGS = ("deterministic", "stochastic")
PROGRESS = ("bars", "epochs", "none")
RECIPES = ("binary-adam",)  # tfquant.recipes.binary_adam
NAMED_SCHEDULES = ("proportional", "none", "cosine")
PAPER_SCHEDULES = {"imagenet": (90, (30, 60))}  # (epochs, drop epochs); CIFAR's is the default
CIFAR_SCHEDULE = (160, (82, 122))
RUN_ONLY = ("progress", "verbose")  # how a run shows itself, not what it computes: not compared on resume
# Settings newer than some progress.json files, with the value those files meant.
ADDED_SETTINGS = {"clip": True, "recipe": None, "full_precision_l2": 0.0}


def check_schedule(text):
    """``text`` if it names a schedule ('proportional', 'none', 'cosine' or increasing epochs like '82,122'),
    else ValueError saying why."""
    if text in NAMED_SCHEDULES:
        return text
    try:
        epochs = [int(e) for e in text.split(",")]
    except ValueError:
        raise ValueError(f"{text!r} is not 'proportional', 'none', 'cosine' or comma-separated epochs "
                         "like 82,122") from None
    if any(e < 1 for e in epochs) or epochs != sorted(set(epochs)):
        raise ValueError(f"{text!r}: the drop epochs must be positive and increasing")
    return text


@dataclass(frozen=True)
class TrainConfig:
    """One run of tfquant-train (the options of ``tfquant-train --help``, same names with ``_`` for ``-``)."""
    model: str = "vgg9"
    width: float | None = None
    dataset: str = "cifar10"
    method: str = "bc"
    optimizer: str = "adam"
    quantizer: str = "binary"
    bits: int | None = None
    delta: float = 1.0
    rounding: str = "deterministic"
    clip: bool = True
    recipe: str | None = None
    batch_size: int = 128
    epochs: int | None = None
    lr: float = 0.01
    schedule: str | None = None
    weight_decay: float = 0.0
    full_precision_l2: float = 0.0
    seed: int = 0
    train_subset: int | None = None
    window: int = 1
    out: Path | None = None
    progress: str = "bars"
    verbose: bool = False

    def __post_init__(self):
        self._check_values()
        self._check_combinations()
        fill = {}
        if self.epochs is None:
            fill["epochs"] = PAPER_SCHEDULES.get(self.dataset, CIFAR_SCHEDULE)[0]
        if self.schedule is None:
            fill["schedule"] = "cosine" if self.recipe else "proportional"
        fill["out"] = Path(self.out) if self.out is not None else \
            Path("runs") / "train" / f"{self.model}-{self.dataset}-{self.method}"
        for name, value in fill.items():
            object.__setattr__(self, name, value)  # frozen: the defaults are filled once, here
        drops = self.drop_epochs()
        if drops and drops[-1] >= self.epochs:
            raise BadInput(f"--schedule {self.schedule}: every drop must come before the last epoch "
                           f"(--epochs {self.epochs})")

    def _check_values(self):
        """Each setting on its own (argparse's types check the command line's before; this checks a caller's)."""
        for name, allowed in (("model", MODELS), ("dataset", DATASETS), ("method", METHODS),
                              ("optimizer", OPTIMIZERS), ("quantizer", QUANTIZERS), ("rounding", ROUNDINGS),
                              ("progress", PROGRESS), ("recipe", (None, *RECIPES))):
            if getattr(self, name) not in allowed:
                raise BadInput(f"{name}={getattr(self, name)!r} is not one of {', '.join(map(str, allowed))}")
        for name in ("batch_size", "epochs", "train_subset", "window", "bits", "width"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise BadInput(f"{name}={value!r} must be > 0")
        for name, low in (("lr", 0.0), ("delta", 0.0)):
            if not getattr(self, name) > low:
                raise BadInput(f"{name}={getattr(self, name)!r} must be > {low}")
        for name in ("weight_decay", "full_precision_l2", "seed"):
            if not getattr(self, name) >= 0:
                raise BadInput(f"{name}={getattr(self, name)!r} must be >= 0")
        if self.bits is not None and self.bits < 2:
            raise BadInput(f"bits={self.bits}: a uniform grid needs at least 2 bits (2 is ternary)")
        if self.schedule is not None:
            try:
                check_schedule(self.schedule)
            except ValueError as error:
                raise BadInput(f"--schedule {error}") from None

    def _check_combinations(self):
        if self.width is not None and self.model not in WIDTH_MODELS:
            raise BadInput(f"--width applies to {' and '.join(WIDTH_MODELS)} only, not {self.model} "
                           "(drop --width)")
        if self.quantizer == "scaled_binary" and self.method != "bc":
            raise BadInput("--quantizer scaled_binary works with --method bc only")
        if self.bits is not None and self.quantizer != "uniform":
            raise BadInput("--bits needs --quantizer uniform")
        if self.rounding == "stochastic" and self.method != "bc":
            raise BadInput("--rounding applies to --method bc only (SR always rounds stochastically, "
                           "R deterministically)")
        if self.method == "adam" and (self.quantizer != "binary" or self.bits is not None or self.delta != 1.0):
            raise BadInput("--method adam trains in full precision: drop --quantizer/--bits/--delta, "
                           "or choose --method bc, sr or r")
        if not self.clip and self.method != "bc":
            raise BadInput("--no-clip applies to --method bc only (it is BC's clip of the full-precision weights)")
        if self.full_precision_l2 and self.method != "bc":
            raise BadInput("--full-precision-l2 applies to --method bc only (it decays BC's full-precision weights; "
                           "--weight-decay is the L2 penalty every method takes)")
        if self.train_subset is not None and self.dataset == "imagenet":
            raise BadInput("--train-subset is not supported for imagenet (drop it)")
        if self.recipe is not None:
            self._check_recipe()

    def _check_recipe(self):
        """binary-adam is BC-Adam with binary {-1, +1} kernels and its own schedule: nothing else may differ."""
        fixed = {"method": "bc", "optimizer": "adam", "quantizer": "binary", "delta": 1.0,
                 "rounding": "deterministic"}
        clashes = [f"--{name} {getattr(self, name)}" for name, value in fixed.items() if getattr(self, name) != value]
        if not self.clip:
            clashes.append("--no-clip")
        if self.full_precision_l2:
            clashes.append(f"--full-precision-l2 {self.full_precision_l2:g}")
        if self.schedule not in (None, "cosine"):
            clashes.append(f"--schedule {self.schedule}")
        if clashes:
            raise BadInput(f"--recipe {self.recipe} is BC-Adam, binary kernels, cosine schedule: it does not take "
                           f"{', '.join(clashes)} (drop {'it' if len(clashes) == 1 else 'them'}, or drop --recipe)")

    def drop_epochs(self):
        """Epochs after which the learning rate is divided by 10 (none for 'none' and 'cosine')."""
        if self.schedule in ("none", "cosine"):
            return []
        if self.schedule == "proportional":
            total, drops = PAPER_SCHEDULES.get(self.dataset, CIFAR_SCHEDULE)
            scaled = (round(d * self.epochs / total) for d in drops)
            return sorted({max(1, d) for d in scaled if d < self.epochs})
        return [int(e) for e in self.schedule.split(",")]

    def to_dict(self):
        """The settings a resumed run must share with the run it continues (JSON-ready: ``out`` as text)."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items() if k not in RUN_ONLY}

    @property
    def label(self):
        """The run's name in plots: ``ADAM``, ``BC-ADAM``, ``SR-SGD``, ..."""
        return self.optimizer.upper() if self.method == "adam" else f"{self.method.upper()}-{self.optimizer.upper()}"


def saved_settings(saved):
    """The settings dict of a progress.json, written by this version or an older one (which lacks the
    settings in `ADDED_SETTINGS`: they read as the value that reproduces the older run)."""
    return {**ADDED_SETTINGS, **saved}


def field_names():
    """The names of `TrainConfig`'s fields, in order."""
    return [f.name for f in fields(TrainConfig)]
