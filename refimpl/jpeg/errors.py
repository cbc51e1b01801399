"""The one exception type raised by the JPEG codec for bad input.

Every problem with caller-supplied data -- a malformed, truncated or hostile
JPEG stream, an unsupported coding process, an array of the wrong shape or
dtype, an out-of-range parameter -- is reported as :class:`JpegError`.  It
derives from :class:`ValueError`, so callers that already catch ``ValueError``
keep working.
"""

__all__ = ["JpegError"]


class JpegError(ValueError):
    """Invalid, unsupported or corrupt JPEG data, or invalid codec arguments.

    The message is a single line that names the problem (for example
    ``"truncated file: marker segment DQT runs past the end of the data"``).
    """
