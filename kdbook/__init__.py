"""kdbook: the book's machinery (profiles, runs, claims, the results page, the runner, teachers, chapter setups).

It builds on :mod:`kdutils`, the reusable KD library, which never imports it.
"""
