"""`reproml board`: review runs in a browser dashboard (Omniboard, or Sacredboard).

Every server is a separate process started and stopped here::

    runs/ (file store) ──push_run(keep_id=True)──▶ secantusd-py on runs/.board/db ─┐
    --mongo URL ───────────────────────────────────────────────────────────────────┴▶ Omniboard
                                                                           (or Sacredboard)

* `processes`: a child process with a log file, a readiness line to wait for, and a stop that
  leaves nothing running;
* `database`: SecantusDB (GPL-2.0, the optional ``board`` extra) started as its console script
  ``secantusd-py``, never imported, and the file store pushed into it;
* `readable`: the board's copy of a file-store run as a reader wants it (flattened config
  without docstrings, no throughput in the default plot);
* `omniboard`: Node.js, Omniboard installed with ``npm ci`` from ``tools/omniboard`` into a
  cache folder of the project, and started on one database;
* `sacredboard`: Sacredboard 0.4.2 in a venv of its own (it needs pymongo < 4), started
  through `sacredboard_launcher` (status filters without ``$where``, dict results readable);
* `session`: what ``reproml board`` starts, in order, and stops in reverse order.
"""
