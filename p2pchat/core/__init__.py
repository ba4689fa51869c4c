"""The pure protocol core: bytes and events in, bytes and actions out.

Nothing here does I/O, reads a clock or draws randomness it was not handed. Allowed imports: the
standard library (minus asyncio, sockets, sqlite3), PyNaCl and msgpack.
"""
