"""``serialized_flow`` as ``prefect register`` sends it: base64 of gzip of JSON."""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

from dockyard.adapters.graphql_api import strict_json
from dockyard.domain.server.errors import InvalidInput

MAX_FLOW_BYTES = 64 * 1024 * 1024  # decompressed; refuses a decompression bomb


def decompress_flow(text: str) -> Any:
    try:
        packed = base64.b64decode(text, validate=True)
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
        raw = inflater.decompress(packed, MAX_FLOW_BYTES)
        if inflater.unconsumed_tail:
            raise InvalidInput(f"Serialized flow is larger than {MAX_FLOW_BYTES} bytes once decompressed.")
        return strict_json.loads(raw, where="serialized_flow")
    except (binascii.Error, zlib.error, ValueError) as exc:
        raise InvalidInput(f"Unable to decompress serialized flow: {exc}") from exc
