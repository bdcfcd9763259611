"""What a run leaves behind for people: ``report.json``, ``curves.png`` and ``report.html``."""
