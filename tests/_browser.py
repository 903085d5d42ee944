"""Helpers for the headless-Chromium tests (book pages and JupyterLab)."""

from __future__ import annotations


def block_requests_except(context, *prefixes: str) -> list[str]:
    """Abort every request of the playwright ``context`` whose URL starts with none of
    ``prefixes``; returns the (growing) list of the URLs blocked."""
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(prefixes):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return blocked
