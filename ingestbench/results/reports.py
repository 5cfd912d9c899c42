"""Write the human and CI reports of a run directory: ``report.md``, ``report.html``, ``junit.xml``."""

from __future__ import annotations

from ingestbench.results import junit, report_html, report_md
from ingestbench.results.rundir import RunFiles


def write_reports(files: RunFiles) -> list[str]:
    written = []
    for name, render in (("report.md", report_md.render), ("report.html", report_html.render),
                         ("junit.xml", junit.render)):
        (files.path / name).write_text(render(files), encoding="utf-8")
        written.append(name)
    return written
