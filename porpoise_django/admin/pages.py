"""The dashboard pages: slug and title, in the order the sidebar and the tabs show.

One list, so the sidebar entry, the page's tab title, its heading and the
navigation links above every page all say the same (in the active language:
the titles are lazy translations).
"""

from django.utils.translation import gettext_lazy as _

PAGES = [
    ("overview", _("Overview")),
    ("cohorts", _("Cohort retention")),
    ("funnels", _("Funnels")),
    ("charts", _("Counter charts")),
    ("lifecycle", _("Lifecycle and stickiness")),
    ("decisions", _("Decisions")),
    ("people", _("People")),
]
TITLES = dict(PAGES)
