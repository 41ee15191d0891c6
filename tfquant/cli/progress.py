"""tqdm progress bars for long loops (no Keras or TensorFlow here: the device runner may use them too)."""

import sys

from tqdm.auto import tqdm


def bar(iterable, description, enabled=True, **kwargs):
    """``tqdm(iterable)`` on stderr, or `iterable` itself when not `enabled`."""
    return tqdm(iterable, desc=description, file=sys.stderr, leave=False, **kwargs) if enabled else iterable
