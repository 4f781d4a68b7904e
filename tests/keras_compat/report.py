"""Per-file counts of Keras's own tests on onnxgraph: passed / failed / not applicable.

    python -m tests.keras_compat.report            # runs the suite, prints a markdown table
    python -m tests.keras_compat.report --why      # also the most common failure messages
    python -m tests.keras_compat.report --write-expectations   # expectations.py from a raw run

"failed" counts real failures and the known failures expectations.py lists (strict xfails);
"not applicable" counts skips (Keras backend internals, with the reason).
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

_HERE = os.path.dirname(os.path.abspath(__file__))


# Keras features an ONNX-graph library has no counterpart for, by test name or failure text.
_NOT_APPLICABLE = {
    "Keras in-place weight quantization / LoRA (onnxgraph quantizes at export: model.export(quantize=...))":
        ("quantiz", "lora", "gptq", "awq", "int4", "int8", "float8"),
    "Keras dtype policies (mixed precision)": ("dtype_policy", "mixed_float16", "autocast"),
    "TensorFlow (tf.data pipelines)": ("no module named 'tensorflow'",),
    "Keras's TensorFlow SavedModel export (onnxgraph models export ONNX: model.export(path))": ("tf_saved_model",),
    "backend-specific internals (torch params, jit, state trees, pickled live models)":
        ("torch_params", "jit_compile", "state_tree", "pickl"),
}


def run(extra=(), raw=False) -> str:
    xml = os.path.join(tempfile.mkdtemp(), "compat.xml")
    env = {**os.environ, **({"KERAS_COMPAT_RAW": "1"} if raw else {})}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", _HERE, "-o", "addopts=",
                    f"--junitxml={xml}", *extra], check=False, stdout=subprocess.DEVNULL, env=env)
    return xml


def write_expectations(xml: str) -> int:
    """expectations.py from a raw run: each failing test is n/a (by the table above) or a known failure."""
    entries = {}
    for case in ET.parse(xml).iter("testcase"):
        for child in case:
            if child.tag not in ("failure", "error"):
                continue
            module = case.get("classname", "").split(".")
            key = "/".join(module[2:-1]) + ".py::" + module[-1] + "::" + case.get("name")
            message = " ".join((child.get("message") or child.tag).split())[:140]
            text = (key + " " + message).lower()
            why = next((w for w, words in _NOT_APPLICABLE.items() if any(x in text for x in words)), None)
            entries[key] = f"n/a: {why}" if why else f"fails: {message}"
    path = os.path.join(_HERE, "expectations.py")
    with open(path) as f:
        head = f.read().split("EXPECTED: dict[str, str] = {")[0]
    with open(path, "w") as f:
        f.write(head + "EXPECTED: dict[str, str] = {\n")
        for key in sorted(entries):
            f.write(f"    {key!r}: {entries[key]!r},\n")
        f.write("}\n")
    return len(entries)


def tally(xml: str):
    counts = collections.defaultdict(collections.Counter)
    reasons = collections.Counter()
    for case in ET.parse(xml).iter("testcase"):
        module = case.get("classname", "").split(".")
        name = "/".join(module[2:-1]) + ".py" if len(module) > 3 else ".".join(module)
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                reasons[(child.get("message") or "")[:160]] += 1
            elif child.tag == "skipped":
                outcome = "failed" if (child.get("type") == "pytest.xfail") else "not applicable"
                if outcome == "not applicable":
                    reasons[("skip: " + (child.get("message") or ""))[:160]] += 1
        counts[name][outcome] += 1
    return counts, reasons


def main(argv) -> int:
    if "--write-expectations" in argv:
        print(f"wrote {write_expectations(run(raw=True))} entries to expectations.py")
        return 0
    counts, reasons = tally(run())
    print("| file | passed | failed | not applicable |\n|---|---|---|---|")
    total = collections.Counter()
    for name in sorted(counts):
        c = counts[name]
        total.update(c)
        print(f"| {name} | {c['passed']} | {c['failed']} | {c['not applicable']} |")
    print(f"| **all {len(counts)} files** | {total['passed']} | {total['failed']} | {total['not applicable']} |")
    if "--why" in argv:
        for message, n in reasons.most_common(60):
            print(f"{n:5d}  {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
