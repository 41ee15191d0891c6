"""Export a Keras model to a verified TFLite file: ``python export/to_tflite.py --help`` (= ``tfquant-export``)."""

from tfquant.cli.export import main

if __name__ == "__main__":
    raise SystemExit(main())
