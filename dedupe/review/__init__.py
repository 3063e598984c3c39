"""The review of a report: decisions (state.py), the facts shown per file (facts.py), thumbnails
(thumbs.py), the full-screen Textual app (app.py) and the plain rich report (plain.py).

Importing this package stays cheap: Textual is imported only by `dedupe.review.app`.
"""
