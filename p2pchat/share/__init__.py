"""`p2pchat share-app`: serve p2pchat and every wheel it needs over HTTP on the local network,
so that people without internet can install it with pip alone.

- `closure.py`: which installed distributions p2pchat needs here (Requires-Dist, markers).
- `wheelfile.py`: writing a wheel (zip with a RECORD of hashes), and the RECORD hash format.
- `repack.py`: turning an installed distribution (or an editable p2pchat) back into a wheel,
  every file checked against the RECORD it was installed with.
- `prepare.py`: `--prepare`, pip download of the wheels of other platforms while online.
- `catalog.py`: the wheels there are to serve, and which platforms they cover.
- `request.py`: parsing an HTTP request head (GET and HEAD only, strictly bounded).
- `server.py`: the asyncio HTTP server over a fixed table of files.
- `page.py`: the page at `/`: instructions per OS, and the links pip's --find-links reads.
- `main.py`: the command itself (re-pack, serve, print the address and QR, mDNS, Ctrl-C).
"""
