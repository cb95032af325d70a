"""Container health probe: exit 0 when ``/api/v1/face_health`` answers 200 ``"status": "OK"``.

The image's HEALTHCHECK runs this every 30 s inside a serving container, so it uses the
standard library only (``faceproof call face_health`` does the same over the client, but
imports the package: about 1.1 s of CPU per probe against 80 ms here). One line on stdout
says why it failed.

    python healthcheck.py [URL]     default http://127.0.0.1:$FACEPROOF_PORT/api/v1/face_health
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import urllib.error
import urllib.request

PATH = "/api/v1/face_health"
TIMEOUT_S = 4.0  # below the HEALTHCHECK --timeout (5 s) so the reason is printed


def default_url() -> str:
    port = os.environ.get("FACEPROOF_PORT", "8080")
    return f"http://127.0.0.1:{port}{PATH}"


def probe(url: str, timeout: float = TIMEOUT_S) -> tuple[bool, str]:
    """(healthy, one-line reason)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status, body = resp.status, resp.read(65536)
    except urllib.error.HTTPError as exc:  # 503 and other non-2xx answers
        reason = ""
        with contextlib.suppress(ValueError, AttributeError, OSError):
            reason = str(json.loads(exc.read(65536)).get("reason", ""))
        return False, f"HTTP {exc.code}" + (f": {reason}" if reason else "")
    except (urllib.error.URLError, OSError) as exc:
        return False, f"no answer: {getattr(exc, 'reason', exc)}"
    try:
        doc = json.loads(body)
    except ValueError:
        return False, f"HTTP {status}: not JSON"
    if status != 200 or not isinstance(doc, dict) or doc.get("status") != "OK":
        shown = doc.get("status") if isinstance(doc, dict) else None
        return False, f"HTTP {status}: status {shown!r}"
    return True, "OK"


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else default_url()
    ok, reason = probe(url)
    print(reason)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
