"""Errors a user can cause. The CLI prints their message on one line and exits non-zero, with no traceback."""


class SeqocrError(Exception):
    """A mistake in the user's input: a file, a record, a config key. The message names it."""


class DataError(SeqocrError):
    """Bad data: a missing or unreadable file, a bad image, a label the charset cannot encode."""


class ConfigError(SeqocrError):
    """An unknown config key, a value of the wrong type, an impossible combination."""


def one_line(text: object, limit: int = 300) -> str:
    """``text`` as one line of at most ``limit`` characters, for a message that quotes another library's error
    (PyYAML's, safetensors', Pillow's may span lines)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
