"""localtune: an encrypted journal of workplace situations that trains a private AI locally."""

__version__ = "0.1.0"
