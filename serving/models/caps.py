"""Caps on what a model parameter may cost, whatever the image: the upper ends of the
ranges of the parameters that decide an op's work (docs/serving.md, Request limits; each
cap's cost against the default, measured by bench/limits_bench.py, is in
bench/results/limits_cpu-2core.md).
"""
from __future__ import annotations

from ..requests import MAX_ITEM_VALUES

# sigma: a blur's cost grows with its kernel (6 sigma + 1 taps) until the 8-bit kernel has
# all its 256 non-zero taps (sigma ~ 100), so a cap past that costs no more than ~100 does.
MAX_SIGMA = 128.0
# downscale: 1/32 of the largest side is 128 pixels; cheaper with every step up.
MAX_DOWNSCALE = 32
# morphology: the cost grows linearly with the element. The mask comes from a 256-pixel
# network output: on the largest frame one output pixel spans 16 pixels, so 21 still
# removes specks of about one network pixel there.
MAX_KSIZE = 21
# The matte's joint bilateral window: its cost grows with the window's area (a circle of
# radius d // 2: 149 taps per pixel for 15; its cost against the default refinement's:
# bench/results/limits_cpu-2core.md).
MAX_JBF_DIAMETER = 15
# The matte's guided filter: box filters as running sums cost the same for every radius. The
# radius is given for a 720p frame and scaled with the frame's long side: the cap's window,
# 129 pixels at 720p, is a fifth of such a frame; a much larger one is nearly its mean.
MAX_GUIDED_RADIUS = 64
# An encoded file is at most as large as the largest raw item a model takes (4 x MAX_SIDE^2
# bytes), which holds the worst case, a PNG of noise at MAX_SIDE x MAX_SIDE (its size:
# docs/serving.md, Encoded images).
MAX_FILE_BYTES = MAX_ITEM_VALUES
