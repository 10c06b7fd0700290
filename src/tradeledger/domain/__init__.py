"""Pure domain: fills, the hash chain and position accounting. No I/O, no clock, no SQL."""
