"""Every cap :func:`~outreach.replies.parse.parse_inbound` puts on hostile input. Pure.

Inbound mail is untrusted: these bound how much of it is read, how deep the MIME tree may go,
how long a header may be, and how much text is kept. Changing one changes what is stored.
"""

from __future__ import annotations

#: Default size cap (``OUTREACH_INBOUND_MAX_BYTES``): 25 MB.
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
#: How much of an oversize message is sniffed for headers.
SNIFF_BYTES = 64 * 1024
#: Multipart and message/* containers allowed before the body is left unparsed.
MAX_CONTAINERS = 64
#: More Content-Type lines than this and only the headers are parsed (a part-count cap).
MAX_CONTENT_TYPES = 500
#: Longest top-level logical header handed to the parser; longer ones are cut.
MAX_HEADER_BYTES = 64 * 1024
#: Longest Content-* header (anywhere in the message) handed to the parser.
MAX_CONTENT_HEADER_BYTES = 2048
#: Address headers longer than this are read with a regex, not the address parser.
MAX_ADDRESS_HEADER_BYTES = 8 * 1024
#: Most addresses kept from one address header.
MAX_ADDRESSES = 1000
#: Most top-level header lines handed to the parser.
MAX_HEADER_LINES = 5000
#: Most body bytes decoded into ``text``, and most characters kept.
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_TEXT_CHARS = 100_000
#: Most parts looked at when walking the MIME tree.
MAX_PARTS = 500
#: Most values kept per header, and most characters kept per value.
MAX_KEPT_VALUES = 10
MAX_KEPT_CHARS = 2000
#: Most characters of a message's text searched for bounce markers.
MAX_SCANNED_TEXT = 20_000
