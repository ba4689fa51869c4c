"""p2pchat's benchmarks: `python -m bench [--quick] [--json] [NAME...]` (see bench/README.md).

Each object in `registry.OBJECTS` runs in its own process and prints one JSON object; this
package runs them, checks their targets and prints one line per object.
"""
