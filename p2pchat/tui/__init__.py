"""The full-screen terminal UI, `p2pchat chat`.

A pure client of the node: it talks to one small interface (`backend.ChatBackend`), either to a
Node running in this process or to a running node over its control socket. `state` is the
view-model (testable without a terminal), `commands` parses what is typed, `controller` runs
commands and events against the backend and the state, `render` turns the state into styled text
and `app` is the prompt_toolkit layout and keys. `main` decides between attaching and running.
"""
