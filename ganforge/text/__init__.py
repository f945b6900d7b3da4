"""Text as a condition: sentence embeddings of captions (`encoder.py`), computed once per caption set and cached."""
from ganforge.text.encoder import DEFAULT_ENCODER, INSTALL_HINT, EncoderRef, check_captions, encode, resolve_encoder

__all__ = ["DEFAULT_ENCODER", "INSTALL_HINT", "EncoderRef", "check_captions", "encode", "resolve_encoder"]
