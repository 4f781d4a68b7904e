"""`python -m onnxgraph.cli ...`: the same as the `onnxgraph` console script."""

import sys

from onnxgraph.cli import main

sys.exit(main())
