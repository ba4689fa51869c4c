"""The relay process: an asyncio shell around `p2pchat.core.relay` (see docs/relay.md)."""
