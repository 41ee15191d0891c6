"""The runner's record: frozen, a read-only mapping of its fields, JSON through to_dict, the CLI's text."""
import dataclasses
import json

import numpy as np
import pytest

from tfquant_lite.run_result import RunResult
from tfquant_lite.states import Integrity


def _result(labels=True):
    probabilities = np.array([[0.1, 0.9], [0.8, 0.2]], np.float32)
    return RunResult(interpreter="litert", machine="x86_64", n=2, load_ms=1.5, expanded=True,
                     normalization={"mean": 0.5, "std": 0.25, "source": "file"}, integrity=Integrity.VERIFIED,
                     predictions=probabilities.argmax(axis=1), probabilities=probabilities,
                     accuracy=0.5 if labels else None,
                     latency_ms={"p50": 0.1, "p90": 0.2, "p99": 0.3, "mean": 0.15})


def test_to_dict_is_json_with_the_integrity_state_as_its_value():
    written = json.loads(json.dumps(_result().to_dict()))
    assert written["integrity"] == "verified"
    assert written["predictions"] == [1, 0]
    assert list(written) == [f.name for f in dataclasses.fields(RunResult)]


def test_a_read_only_mapping_of_the_fields_as_they_are():
    result = _result()
    assert result["integrity"] is Integrity.VERIFIED and result["predictions"].dtype.kind == "i"
    assert set(result) == {f.name for f in dataclasses.fields(RunResult)} and len(result) == 11
    with pytest.raises(KeyError):
        result["checksum"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.accuracy = 1.0


def test_to_text_is_what_tfquant_run_prints():
    text = _result().to_text("m.tflite", 1234, labels=[1, 1], show=1).splitlines()
    assert text[0] == "model m.tflite (1234 bytes, checksum verified), interpreter litert, 2 images, loaded and " \
                      "expanded in 1.5 ms"
    assert text[2] == "  [0] class 1  p=0.900  label 1" and len(text) == 5  # one prediction shown
    assert "accuracy" not in _result(labels=False).to_text("m.tflite", 1, show=0)
