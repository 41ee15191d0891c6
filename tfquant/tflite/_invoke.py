"""Feed samples one by one to an interpreter with the tf.lite API; numpy only, so that the
tflite-runtime worker (in its own venv) shares it."""
import numpy as np


def invoke_each(interp, inputs):
    """Stack the first output of `interp` over the samples of `inputs` (each fed with a batch of 1)."""
    index = interp.get_input_details()[0]["index"]
    out_index = interp.get_output_details()[0]["index"]
    outputs = []
    for sample in inputs:
        interp.set_tensor(index, sample[None])
        interp.invoke()
        outputs.append(interp.get_tensor(out_index)[0].copy())
    return np.stack(outputs)
