"""use_cudnn: a real LSTM/GRU argument (validated and kept, Bidirectional copies it); SimpleRNN has none."""

import pytest

from onnxgraph import layers


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU])
@pytest.mark.parametrize("value", [True, False, "auto"])
def test_use_cudnn_kept_and_copied_by_bidirectional(cls, value):
    rnn = cls(2, use_cudnn=value)
    assert rnn.use_cudnn == value
    bidi = layers.Bidirectional(rnn)
    assert bidi.forward_layer.use_cudnn == value and bidi.backward_layer.use_cudnn == value


def test_use_cudnn_validated_and_absent_from_simple_rnn():
    with pytest.raises(ValueError, match="use_cudnn"):
        layers.LSTM(2, use_cudnn="yes")
    assert not hasattr(layers.SimpleRNN(2), "use_cudnn")
    with pytest.raises(TypeError):
        layers.SimpleRNN(2, use_cudnn=True)
