"""Packed Verilog buses <-> lane words, for the cocotb testbenches (test_mac_tile.py, test_array.py)."""


def pack(words, bits: int) -> int:
    """Lane i's word at [bits*i +: bits] (two's complement)."""
    mask, v = (1 << bits) - 1, 0
    for i, w in enumerate(words):
        v |= (int(w) & mask) << (bits * i)
    return v


def lanes(value, n: int, bits: int) -> list:
    """A packed bus value -> n signed lane words, None where a lane holds X/Z."""
    s = str(value)                                   # MSB first: lane n-1 .. lane 0
    out = []
    for i in range(n):
        chunk = s[len(s) - bits * (i + 1): len(s) - bits * i]
        if set(chunk) - {"0", "1"}:
            out.append(None)
        else:
            w = int(chunk, 2)
            out.append(w - (1 << bits) if w >> (bits - 1) else w)
    return out
