"""JSON decoded and encoded in pieces (GIL released between rows) equals the stdlib's answer."""

import json

import numpy as np
import pytest

from onnxgraph.serving._codec import _array_json, loads_in_pieces

GOOD = [
    '{"inputs": [[1, 2.5, -3e-2], [4, 5, 6]]}', ' { "inputs" : { "a" : [ [1] , [2] ], "b": [[true, false]] } } ',
    '{"inputs": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]}', '{"inputs": []}', '{"inputs": [[]]}', '[1, 2]', '7',
    '{"inputs": [[NaN, Infinity, -Infinity]]}', '{"a": {"b": {"c": {"d": [1, {"e": null}]}}}}', '"x"',
    '{"inputs": [["\\u00e9", "a,b]"]], "k": "}"}', '{}', '[[], {}, [[]]]',
]
BAD = ['', '{', '{"inputs": [[1, 2]]', '{"inputs": [[1, 2]],}', '{"inputs" [1]}', '{1: 2}', '[1, 2]]', '[1 2]',
       '{"inputs": [[1, 2], ]}', '[[1, 2] [3]]', '{"a": 1 "b": 2}', 'nul', '[', ']', '{"inputs": [[1, 2], [3, 4]]} x']


@pytest.mark.parametrize("text", GOOD)
def test_same_value_as_json_loads(text):
    body = text.encode()
    expected = json.loads(body)
    got = loads_in_pieces(body)
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize("text", BAD)
def test_same_refusals_as_json_loads(text):
    with pytest.raises(ValueError):
        json.loads(text.encode())
    with pytest.raises(ValueError):
        loads_in_pieces(text.encode())


def test_big_array_json_equals_one_dumps():
    array = np.random.default_rng(0).standard_normal((5000, 30)).astype(np.float32)
    array[3, 4] = np.nan
    assert _array_json(array) == json.dumps(array.tolist(), separators=(",", ":"))
    assert _array_json(array[:0]) == "[]"
