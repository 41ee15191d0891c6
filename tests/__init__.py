"""The test suite. Importing this package (which pytest does before tests/conftest.py) quiets TensorFlow's C++
INFO lines before anything imports it."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
