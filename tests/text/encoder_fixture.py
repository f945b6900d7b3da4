"""The real sentence encoder as a session fixture (`from encoder_fixture import minilm`), loaded once (~5 s); tests that
not installed (CI installs it, so they run there)."""
import pytest

from ganforge.errors import GanforgeError
from ganforge.text import encoder


@pytest.fixture(scope="session")
def minilm() -> encoder.EncoderRef:
    """all-MiniLM-L6-v2, resolved and loaded (its model stays loaded for the session)."""
    try:
        ref = encoder.resolve_encoder(encoder.DEFAULT_ENCODER)
        encoder._model(str(ref.path))
    except GanforgeError as e:
        pytest.skip(f"needs the text extra (pip install \"ganforge[text]\"): {e}")
    return ref
