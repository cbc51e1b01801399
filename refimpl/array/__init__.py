"""The 12 x 12 output-stationary MAC array itself, pass by pass and cycle by cycle.

One module a step (data flows down this list):
  passes  which passes a tile is made of and the operand streams of each pass
  timing  the closed-form cycle count of a tile on the array (and its terms)
  model   the cycle-level model: feed, skew, operand and psum registers, capture, write
  engine  a conv/fc layer run on the model tile by tile (`refimpl run --mode array`)
  golden  per-pass golden vectors of a tile (`refimpl golden --passes first:N|all`)
  cli     the array table of `refimpl run --mode array`
README "For RTL engineers: the MAC array" documents the vectors and the timing;
tools/rtl/array_os.v is the RTL the model describes.
"""
