"""The static HTML QA report (``callqa report``): overview, review queue, call pages."""
from callqa.report.build import ReportError, ReportResult, build_report, rebuild_overview, slug

__all__ = ["ReportError", "ReportResult", "build_report", "rebuild_overview", "slug"]
