"""The import contract: `tfquant_lite` (the device core, `tfquant-run`) loads neither tfquant, Keras nor
TensorFlow; `import tfquant` imports Keras and registers tfquant's classes, whichever is imported first.

Each case runs in a fresh interpreter, because what is imported first is what is tested.
"""

import pkgutil
import subprocess
import sys

import pytest

import tfquant_lite

SAVE = """
import keras, numpy as np, tfquant
m = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(), keras.layers.Dense(2)])
m.compile(tfquant.BCAdam(1e-2), "sparse_categorical_crossentropy")
m.fit(np.random.rand(8, 6, 6, 1), np.zeros(8, int), verbose=0)
m.save({path!r})
"""

# every order in which a user's or tfquant's own code may import tfquant and keras
IMPORT_ORDERS = [
    "import tfquant; import keras",
    "import keras; import tfquant",
    "import tfquant.callbacks, keras",  # keras first imported from inside one of tfquant's own modules
    "import tfquant.cli.training, tfquant.summary, keras",
]
LITE_MODULES = sorted(f"tfquant_lite.{m.name}" for m in pkgutil.iter_modules(tfquant_lite.__path__))


def _python(code):
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def test_every_tfquant_lite_module_loads_neither_tfquant_keras_nor_tensorflow():
    assert {"tfquant_lite.cli", "tfquant_lite.runner", "tfquant_lite.interpreters"} <= set(LITE_MODULES)
    loaded = _python(f"import sys, {', '.join(LITE_MODULES)}; "
                     "print(sorted({m.split('.')[0] for m in sys.modules} & {'tfquant', 'keras', 'tensorflow'}))")
    assert loaded.stdout.strip() == "[]"


def test_import_tfquant_imports_keras_and_registers_without_a_banner():
    done = _python("import sys, tfquant, keras; "
                   "print('keras' in sys.modules, keras.saving.get_registered_object('tfquant>BCAdam') is not None)")
    assert done.stdout.split() == ["True", "True"]
    assert "absl::InitializeLog" not in done.stderr and "I0000 " not in done.stderr


@pytest.mark.parametrize("imports", IMPORT_ORDERS)
def test_a_saved_bc_model_loads_whichever_is_imported_first(tmp_path, imports):
    path = str(tmp_path / "bc.keras")
    _python(SAVE.format(path=path))
    name = _python(f"{imports}; m = keras.models.load_model({path!r}); print(type(m.optimizer).__name__)")
    assert name.stdout.strip() == "BCAdam"


@pytest.mark.parametrize("imports", IMPORT_ORDERS)
def test_tfquant_summary_is_the_function_not_its_module(imports):
    assert _python(f"{imports}; print(callable(tfquant.summary))").stdout.strip() == "True"
