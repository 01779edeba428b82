"""The transport's per-class codec shortcuts behave exactly like ``robotfleet_nodes.idl.codec``."""

from __future__ import annotations

import math
from typing import Any

import pytest
from std_msgs.msg import Float64, String  # type: ignore[import-not-found]

from robotfleet_nodes.errors import DecodeError
from robotfleet_nodes.idl.codec import Encoding, deserialize, serialize
from robotfleet_nodes.transport.nats._fastcodec import decoder_for, encoder_for


@pytest.mark.parametrize("encoding", list(Encoding))
@pytest.mark.parametrize("msg", [String(data="héllo"), Float64(data=math.inf), Float64(data=-0.5)])
def test_same_bytes_and_messages_as_the_codec(encoding: Encoding, msg: Any) -> None:
    cls = type(msg)
    data = encoder_for(cls, encoding)(msg)
    assert data == serialize(msg, encoding)
    assert decoder_for(cls, encoding)(data) == deserialize(cls, data, encoding)


@pytest.mark.parametrize("encoding", list(Encoding))
def test_bad_bytes_raise_the_codecs_decode_error(encoding: Encoding) -> None:
    with pytest.raises(DecodeError):
        decoder_for(String, encoding)(b"\x01")
