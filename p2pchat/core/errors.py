"""The exception types the core raises for anything a peer (or a file) got wrong."""


class ProtocolError(Exception):
    """Input from the other side broke the protocol; the link is closed with str(exc) as reason."""


class NoiseError(ProtocolError):
    """A Noise operation failed: bad MAC, wrong key length, low-order point, message out of turn."""
