"""The dashboard pages: slug and title, in the order the sidebar and the tabs show.

One list, so the sidebar entry, the page's tab title, its heading and the
navigation links above every page all say the same.
"""

PAGES = [
    ("overview", "Overview"),
    ("cohorts", "Cohort retention"),
    ("funnels", "Funnels"),
    ("charts", "Counter charts"),
    ("lifecycle", "Lifecycle and stickiness"),
    ("decisions", "Decisions"),
    ("people", "People"),
]
TITLES = dict(PAGES)
