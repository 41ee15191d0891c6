"""tfquant: train Keras 3 networks with binary or low-bit weights by R, SR and BC (Li et al., NeurIPS 2017).

    model.compile(optimizer=tfquant.BCAdam(learning_rate=1e-2), loss=..., metrics=[...])

The Keras parts load with the package when Keras is already imported (``import keras, tfquant``), else
as soon as Keras is imported or a Keras name of tfquant is first used (``tfquant.BCAdam``), so that the
TensorFlow-free parts (``tfquant.tflite``'s device core, ``tfquant-run``, every tool's ``--help``) work on
machines without Keras or TensorFlow, and ``import tfquant; import keras; keras.models.load_model(...)``
still finds tfquant's classes. ``tfquant.register()`` loads them explicitly.
"""

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

# public name -> the module that defines it (the Keras parts, loaded together by `register`)
_KERAS_NAMES = {
    **dict.fromkeys(["BCAdam", "SRAdam", "RAdam", "BCSGD", "SRSGD", "RSGD", "QuantizedOptimizer", "quantized"],
                    "tfquant.optimizers"),
    **dict.fromkeys(["Binary", "Uniform", "ScaledBinary"], "tfquant.quantizers"),
    "quantize_weights": "tfquant.selection",
    "summary": "tfquant.summary",
}
_KERAS_MODULES = ("callbacks", "grids", "initializers", "kernels", "layers", "quantizers", "recipes", "selection")

__all__ = [*_KERAS_NAMES, *_KERAS_MODULES]


_registering = []  # non-empty while register() runs: the modules it imports import each other


def register():
    """Import tfquant's Keras parts, which registers its optimizers, quantizers and initializers with Keras."""
    if _registering:  # re-entered by `from tfquant import x` inside one of them: __getattr__ imports x alone
        return
    _registering.append(True)
    try:
        for module in sorted(set(_KERAS_NAMES.values())) + [f"tfquant.{m}" for m in _KERAS_MODULES]:
            importlib.import_module(module)
    finally:
        _registering.clear()
    # Importing the submodule tfquant.summary set the attribute `summary` to the module: the public name is the
    # function. Bind every public name now.
    for name, module in _KERAS_NAMES.items():
        if hasattr(sys.modules[module], name):
            globals()[name] = getattr(sys.modules[module], name)


def __getattr__(name):
    if name in _KERAS_NAMES:
        register()
        return getattr(importlib.import_module(_KERAS_NAMES[name]), name)
    if name in _KERAS_MODULES:  # a submodule (also reached by `from tfquant import selection` inside tfquant)
        return importlib.import_module(f"tfquant.{name}")
    raise AttributeError(f"module 'tfquant' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """Registers tfquant's Keras classes right after `keras` is imported (when tfquant was imported first)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)  # find the real keras, once
        spec = importlib.util.find_spec("keras")
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module

            def exec_module(module):
                load(module)
                register()

            spec.loader.exec_module = exec_module
        return spec


if "keras" in sys.modules:
    register()
else:
    sys.meta_path.insert(0, _RegisterAfterKeras())
