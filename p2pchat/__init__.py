"""p2pchat: serverless, end-to-end encrypted chat for a local network."""

__version__ = "0.1.0"
