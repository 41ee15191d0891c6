"""tfquant_lite: tfquant's device core, with no Keras and no TensorFlow.

What a phone, a Raspberry Pi or a firmware build step needs to check and run an exported file: numpy,
flatbuffers and one interpreter. `tfquant` (the Keras library) and `tfquant-run` (the on-device runner)
both import it; it imports neither.
"""
