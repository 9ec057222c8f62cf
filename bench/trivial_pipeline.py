#!/usr/bin/env python
"""ZenML's own floor: a pipeline of N trivial steps (each adds 1 to an int) on the active local stack, in a fresh
process, so that the fixed cost of a project command can be compared with what ZenML alone costs for as many steps.

    python bench/trivial_pipeline.py --steps 11            # cached when run twice with the same --steps
    python bench/trivial_pipeline.py --steps 11 --no-cache
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence


from zenml import pipeline, step  # noqa: E402 - after the docstring, as a script


@step
def add_one(value: int) -> int:
    return value + 1


@pipeline
def trivial_pipeline(steps: int) -> None:
    value = 0
    for _ in range(steps):
        value = add_one(value)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args(argv)
    trivial_pipeline.with_options(enable_cache=not args.no_cache)(steps=args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
