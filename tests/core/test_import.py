"""`import tfquant` is cheap (no Keras, no TensorFlow) and still registers tfquant's Keras classes in time.

Each case runs in a fresh interpreter, because what is imported first is what is tested.
"""

import subprocess
import sys

import pytest

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


def _python(code):
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.strip()


def test_import_tfquant_loads_neither_keras_nor_tensorflow():
    loaded = _python("import sys, tfquant, tfquant.cli.common; "
                     "print(sorted({'keras', 'tensorflow'} & set(sys.modules)))")
    assert loaded == "[]"


@pytest.mark.parametrize("imports", IMPORT_ORDERS)
def test_a_saved_bc_model_loads_whichever_is_imported_first(tmp_path, imports):
    path = str(tmp_path / "bc.keras")
    _python(SAVE.format(path=path))
    name = _python(f"{imports}; m = keras.models.load_model({path!r}); print(type(m.optimizer).__name__)")
    assert name == "BCAdam"


@pytest.mark.parametrize("imports", IMPORT_ORDERS)
def test_tfquant_summary_is_the_function_not_its_module(imports):
    assert _python(f"{imports}; print(callable(tfquant.summary))") == "True"
