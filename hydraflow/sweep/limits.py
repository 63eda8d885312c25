"""How much one sweep expression may ask for; past these it is a SweepError, not a crash.

Each limit sits far above any sweep a person writes, and well below what would
exhaust memory, time, the interpreter's recursion or its number conversions.
"""

from __future__ import annotations

# Brackets nested deeper than this are refused: the parser and the value
# nodes recurse once per level, and real sweeps nest two or three deep.
MAX_DEPTH = 32

# Ranges and log() compute their values exactly, with this many significant
# digits at most (every value of `0:1:0.001` needs 4; `1:2:1e-99` needs 100).
# It bounds the cost of each value and keeps every integer far below Python's
# 4300-digit int/str conversion limit.
MAX_DIGITS = 100

# Numbers in ranges and log() keep their exponent within ±MAX_EXPONENT, the
# range of Python's default decimal context; exponents beyond it do not fit.
MAX_EXPONENT = 999_999

# No token, and no whole `each`, may have more values than this. Nothing of
# that size can run; the bound keeps every count a small integer that prints.
MAX_SIZE = 10**100
MAX_SIZE_TEXT = "10^100"

# A token of `all`, or a pipe section, is collected into ONE override
# `KEY=v1,v2,…` that a single process receives and Hydra sweeps in turn. Past
# 10⁴ values that stops being a sweep one process can take:
# - a launched process gets the override as one argument, which Linux caps at
#   128 KiB (MAX_ARG_STRLEN): 10⁴ values of up to 12 characters fit, while 10⁵
#   never do (a value and its comma take at least 2 bytes);
# - Hydra parses the override and builds every run's override list before the
#   first run: measured with hydra-core 1.3 (under tracemalloc), ~2 s and
#   14 MB for 10⁴ integers, ~20 s and 140 MB for 10⁵.
# A larger sweep belongs in `each`, which streams and has no such limit.
MAX_COLLECTED = 10_000

# The same override may not exceed this many characters: with values of a
# sensible length MAX_COLLECTED comes first; this stops a few very long values
# (`(0:9999)` next to a megabyte of text) from filling memory.
MAX_COLLECTED_CHARS = 1 << 24
