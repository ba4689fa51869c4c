"""The page at `/`: what to type on each system to install p2pchat from this share, and the
links to every wheel, which is what `pip install --find-links http://HOST:PORT/` reads.

Made per request for the Host the reader used (it reached us, so it is the address to give
pip), which the request parser has already checked to be a plain host[:port]. Everything
written into the page is HTML-escaped. No scripts, no outside resources.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from p2pchat.share.catalog import Catalog

WHEELS_PATH = "/wheels/"

_STYLE = """body{font-family:sans-serif;max-width:46em;margin:1em auto;padding:0 1em;
line-height:1.4}pre{background:#eee;padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere}code{background:#eee}
h2{margin-top:1.4em}.files{overflow-wrap:anywhere}.files a{font-family:monospace;font-size:.85em}"""


def wheel_url(filename: str) -> str:
    return WHEELS_PATH + quote(filename)


def render_page(catalog: Catalog, host: str) -> bytes:
    url = f"http://{host}/"
    pip_args = f"install --no-index --find-links {url} --trusted-host {host} p2pchat"
    e = escape
    ready = "".join(f"<li>{e(label)}</li>" for label in catalog.ready_for) or \
        "<li>nothing: this share has no complete set of wheels</li>"
    links = "\n".join(
        f'<li><a href="{e(wheel_url(w.filename))}#sha256={w.sha256}"'
        + (f' data-requires-python="{e(w.requires_python)}"' if w.requires_python else "")
        + f">{e(w.filename)}</a></li>" for w in catalog.wheels)
    families = served_families(catalog.ready_for)
    unix = [name for name in ("Linux", "macOS") if name in families]
    unix_steps = f"""<h2>{" and ".join(unix)} (in a terminal)</h2>
<pre>python3 -m venv ~/p2pchat
~/p2pchat/bin/python -m pip {e(pip_args)}
~/p2pchat/bin/p2pchat chat</pre>
<p>No <code>venv</code> module? On Debian and Ubuntu: <code>sudo apt install
python3-venv</code> (that needs the internet or the installation media).</p>
""" if unix else ""
    windows_steps = f"""<h2>Windows (in Command Prompt)</h2>
<pre>py -m venv %USERPROFILE%\\p2pchat
%USERPROFILE%\\p2pchat\\Scripts\\python -m pip {e(pip_args)}
%USERPROFILE%\\p2pchat\\Scripts\\p2pchat chat</pre>
<h2>Windows (in PowerShell)</h2>
<pre>py -m venv $HOME\\p2pchat
&amp; "$HOME\\p2pchat\\Scripts\\python" -m pip {e(pip_args)}
&amp; "$HOME\\p2pchat\\Scripts\\p2pchat" chat</pre>
<p>No <code>py</code> command? Install Python from <code>python.org</code> (it comes with
<code>py</code>), or write <code>python</code> instead.</p>
""" if "Windows" in families else ""
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Install p2pchat {e(catalog.version)}</title><style>{_STYLE}</style></head><body>
<h1>Install p2pchat {e(catalog.version)} from this machine</h1>
<h2>This share can install p2pchat on</h2>
<ul>{ready}</ul>
<p>p2pchat is a serverless, end-to-end encrypted chat for a local network. Someone near you is
sharing it from this page: installing it needs no internet, only Python 3.11 or newer
(from <code>python.org</code> or your system's packages) and this Wi-Fi. Only the steps for the
systems above are shown: on another one, pip finds nothing here to install.</p>

{unix_steps}{windows_steps}
<h2>Then</h2>
<p><code>p2pchat --version</code> should say <code>p2pchat {e(catalog.version)}</code>, as it
does for the person sharing. The first <code>p2pchat chat</code> creates your identity; see
<code>p2pchat --help</code> for the rest.</p>

<h2>If it does not work</h2>
<ul>
<li><b>"No matching distribution found"</b>: this share has no wheels for your system or your
Python version (the list above). Ask the person sharing to run <code>p2pchat share-app
--prepare</code> once while they are online: it fetches the wheels for Windows, macOS and
Linux (x86_64 and ARM64) with Python 3.11, 3.12 and 3.13. Or install p2pchat when you are
online.</li>
<li><b>"Requires-Python"</b> or an old Python: p2pchat needs Python 3.11 or newer.</li>
<li><b>"not a trusted or secure host"</b>: keep <code>--trusted-host</code> in the command:
pip refuses plain-HTTP sources on other machines unless told to trust them.</li>
</ul>
<p>This page travels as plain HTTP: anyone who controls this network could change what you
download. Install from someone you trust, on a network you trust.</p>

<h2>Files</h2>
<ul class="files">
{links}
</ul>
</body></html>
"""
    return html.encode("utf-8")


def served_families(ready_for: list[str]) -> list[str]:
    """The systems the ready platforms belong to ("Linux", "macOS", "Windows"), from the page's
    labels and sysconfig's names alike; all three when none is recognised (steps unknown)."""
    found = []
    for family, marks in (("Linux", ("linux",)), ("macOS", ("macos",)),
                          ("Windows", ("windows", "win-", "win32", "win_"))):
        if any(mark in label.lower() for label in ready_for for mark in marks):
            found.append(family)
    return found or ["Linux", "macOS", "Windows"]
