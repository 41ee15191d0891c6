"""What the runner could vouch for in a .tflite file: one enum, no imports, so that a device without the
flatbuffers package or a TFLite schema (where `integrity` cannot load) still names its state."""
import enum


class Integrity(str, enum.Enum):
    """The outcome of `integrity.check` (a str, so it prints and serialises as its value)."""
    VERIFIED = "verified"        # our stamp, and every byte of the file matches it
    FOREIGN = "foreign"          # no stamp (or --trust-foreign): checked for soundness only
    NOT_CHECKED = "not checked"  # no flatbuffers or schema on this device: the file identifier only

    def __str__(self):
        return self.value

    __format__ = str.__format__
