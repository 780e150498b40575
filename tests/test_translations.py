"""The app in French and German: the catalogues are complete and compiled, the
admin pages, the API's messages and the scripts' strings speak the language
asked for, and the engine's messages people meet are said in it too."""

from __future__ import annotations

import ast
import datetime as dt
import gettext
import html
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import translation
from rest_framework.test import APIClient

from porpoise_django.engine import funnel, parse_query, stickiness, validate_name
from porpoise_django.i18n import MESSAGES, engine_message
from tests.browser import browser_test

pytestmark = pytest.mark.django_db
APP = Path(__file__).resolve().parent.parent / "porpoise_django"
LANGUAGES = ("fr", "de")
DOMAINS = ("django", "djangojs")


def catalogue(path: Path) -> list[dict[str, Any]]:
    """The entries of a .po file: ``msgid``, ``msgid_plural``, ``msgctxt``,
    ``msgstr`` (index -> text), ``flags`` and ``obsolete``; the header first."""
    entries: list[dict[str, Any]] = []
    entry: dict[str, Any] | None = None
    key: Any = None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            entry = None
            continue
        if entry is None:
            entry = {"msgctxt": None, "msgid_plural": None, "msgstr": {}, "flags": set()}
            entry["obsolete"] = line.startswith("#~")
            entries.append(entry)
        if line.startswith("#~"):
            entry["obsolete"] = True
            line = line[2:].strip()
        if line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#") or not line:
            continue
        found = re.match(r'(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])? (".*")$', line)
        if found:
            word, index, text = found.groups()
            key = ("msgstr", int(index or 0)) if word == "msgstr" else word
            value = ast.literal_eval(text)
        else:  # a continued string
            value = ast.literal_eval(line)
        if isinstance(key, tuple):
            entry["msgstr"][key[1]] = entry["msgstr"].get(key[1], "") + value
        else:
            entry[key] = (entry.get(key) or "") + value
    return entries


def _po(root: Path, language: str, domain: str) -> Path:
    return root / "locale" / language / "LC_MESSAGES" / f"{domain}.po"


def _messages(entries: list[dict[str, Any]]) -> set[tuple[Any, str]]:
    return {(e["msgctxt"], e["msgid"]) for e in entries if e["msgid"] and not e["obsolete"]}


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app copied away, its catalogues brought up to date by makemessages
    run from inside it (as docs/admin.md tells a translator to)."""
    root = tmp_path_factory.mktemp("app") / "porpoise_django"
    shutil.copytree(APP, root, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    here = Path.cwd()
    try:
        import os

        os.chdir(root)
        options = {"locale": list(LANGUAGES), "no_obsolete": True, "verbosity": 0}
        call_command("makemessages", **options)
        call_command("makemessages", domain="djangojs", ignore_patterns=["*.min.js"], **options)
    finally:
        os.chdir(here)
    return root


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_makemessages_finds_nothing_untranslated(regenerated, language, domain):
    """Every string the app wraps is translated (none empty, none fuzzy), and the
    committed catalogue holds exactly those strings (no stale ones)."""
    fresh = catalogue(_po(regenerated, language, domain))
    untranslated = [
        e["msgid"]
        for e in fresh[1:]
        if not e["obsolete"]
        and ("fuzzy" in e["flags"] or not e["msgstr"] or not all(e["msgstr"].values()))
    ]
    assert untranslated == [], f"run makemessages in porpoise_django/ and translate: {untranslated}"
    committed = catalogue(_po(APP, language, domain))
    assert not any("fuzzy" in e["flags"] for e in committed)
    assert _messages(committed) == _messages(fresh)
    assert f"Language: {language}\n" in committed[0]["msgstr"][0]


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogues_are_those_of_the_po_files(tmp_path, language, domain):
    """The committed .mo files are the .po files compiled (compilemessages was run)."""
    compiled = tmp_path / f"{domain}.mo"
    subprocess.run(
        ["msgfmt", "--check-format", "-o", str(compiled), str(_po(APP, language, domain))],
        check=True,
    )
    committed = _po(APP, language, domain).with_suffix(".mo")
    with compiled.open("rb") as fresh, committed.open("rb") as shipped:
        assert gettext.GNUTranslations(shipped)._catalog == (  # type: ignore[attr-defined]
            gettext.GNUTranslations(fresh)._catalog  # type: ignore[attr-defined]
        )


def test_the_period_help_is_the_engines(settings):
    """The translated period help says what the engine's does (same forms)."""
    from porpoise_django.engine import PERIOD_STRING_HELP
    from porpoise_django.i18n import PERIOD_STRING_HELP as said

    with translation.override("en"):
        assert str(said) == PERIOD_STRING_HELP


# -- the engine's messages, said again at the Django boundary -----------------------


def _cap(pp):
    pp.period_string("20000d")


def _range_cap(pp):
    pp.range("day", -20000, 0)


def _month_steps(pp):
    pp.period("day").delta(10**7)


def _old_day(pp):
    pp.period("day", dt.date(1, 1, 1))


def _funnel_too_large(pp):
    funnel(pp, ["a", "b"], granularity="day", window=366, start=-400, end=0)


def _no_days(pp):
    weeks = pp.__class__(pp.client, prefix=pp.keys.prefix, granularities=["week"])
    stickiness(weeks, "a", weeks.period("week"))


def _unknown_property(pp):
    pp.property_kind("plan")


def _unknown_property_of_some(pp):
    pp.set_properties(1, {"country": "FR"})
    pp.property_kind("plan")


def _activity(pp):
    long_ago = pp.now() - dt.timedelta(days=9000)
    pp.mark_many([(f"e{i}", 1, when) for i in range(25) for when in (long_ago, pp.now())])
    pp.activity(1, pp.range("day", -9000, 0))


#: One engine call for each message :data:`porpoise_django.i18n.MESSAGES` knows.
ENGINE_ERRORS = {
    "unknown period": lambda pp: pp.period_string("fortnight"),
    "period cap": _cap,
    "range cap": _range_cap,
    "count at least 1": lambda pp: pp.period_string("0d"),
    "step": lambda pp: pp.period_string("2d:1mo"),
    "zone suffix": lambda pp: pp.period_string("7d|Europe/Paris"),
    "not tracked": lambda pp: pp.check_tracked("hour"),
    "out of range": _old_day,
    "steps out of range": _month_steps,
    "cannot be written": lambda pp: pp.check_window(-5.0),
    "cannot be read": lambda pp: pp.check_window(-5.0, writing=False),
    "empty query": lambda pp: parse_query(pp, ""),
    "ends too early": lambda pp: parse_query(pp, "a &"),
    "unexpected": lambda pp: parse_query(pp, "a )"),
    "missing )": lambda pp: parse_query(pp, "(a"),
    "unique(": lambda pp: parse_query(pp, "unique(a b"),
    "value missing": lambda pp: parse_query(pp, "plan="),
    "invalid event name": lambda pp: parse_query(pp, "a & b!c"),
    "invalid name": lambda pp: validate_name("no spaces", what="segment name"),
    "tokens": lambda pp: parse_query(pp, " & ".join("ab"[i % 2] for i in range(150))),
    "names": lambda pp: parse_query(pp, " | ".join(f"e{i}" for i in range(60))),
    "nests": lambda pp: parse_query(pp, "(" * 30 + "a" + ")" * 30),
    "length": lambda pp: parse_query(pp, "a" * 501),
    "unknown property": _unknown_property,
    "unknown property, known": _unknown_property_of_some,
    "id not an integer": lambda pp: pp.id_codec.check("abc"),
    "id out of range": lambda pp: pp.id_codec.check(-1),
    "activity": _activity,
    "funnel too large": _funnel_too_large,
    "stickiness days": _no_days,
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("case", list(ENGINE_ERRORS))
def test_the_engines_messages_are_said_in_the_language(pp, case, language):
    """Each engine message the glue translates still has the wording it looks
    for: a change in the engine fails here, not silently in English."""
    with pytest.raises(ValueError) as raised:
        ENGINE_ERRORS[case](pp)
    english = str(raised.value)
    with translation.override(language):
        said = engine_message(raised.value)
    assert said != english, english
    assert engine_message(raised.value) == english  # in English, as it was
    for number in re.findall(r"\d+", english):
        assert number in said  # the values it names are kept


def test_every_known_engine_message_has_a_case():
    assert len(ENGINE_ERRORS) == len(MESSAGES)


# -- the admin pages ----------------------------------------------------------------


@pytest.fixture
def staff(staff_client_user):
    return staff_client_user


@pytest.fixture
def data(porpoise):
    pp = porpoise(GRANULARITIES=["day", "week", "month"])
    now = pp.now()
    for days_ago in range(5):
        when = now - dt.timedelta(days=days_ago)
        pp.mark_many([("signup", 100 * days_ago + i, when) for i in range(10)])
        pp.mark_many([("active", 100 * days_ago + i, when) for i in range(0, 10, 2)])
    pp.count_many([("plays", "song", 1, None)])
    return pp


def _english(language: str = "fr") -> list[str]:
    """The app's own sentences (several words, no placeholder) a page in
    ``language`` must not show untranslated."""
    entries = catalogue(_po(APP, language, "django"))
    return [
        e["msgid"]
        for e in entries[1:]
        if " " in e["msgid"] and "%" not in e["msgid"] and e["msgstr"].get(0) != e["msgid"]
    ]


def _text(response) -> str:
    assert response.status_code in (200, 400), response.status_code
    return html.unescape(response.content.decode())


def _no_english(text: str, language: str = "fr") -> None:
    left = [sentence for sentence in _english(language) if sentence in text]
    assert left == []


def test_the_pages_in_french(client, staff, data, settings):
    """LANGUAGE_CODE="fr": Django's admin and the app's pages both in French."""
    settings.LANGUAGE_CODE = "fr"
    overview = _text(client.get("/admin/porpoise/overview/"))
    assert "Accueil" in overview  # Django's own
    assert "Analyses Porpoise" in overview and "Fuseau horaire" in overview
    assert "les 30 derniers jours" in overview
    _no_english(overview)
    cohorts = _text(client.get("/admin/porpoise/cohorts/"))
    assert "Afficher le tableau" in cohorts and "Courbe de rétention" in cohorts
    assert "Cohortes par semaine, revenus pendant chaque période" in cohorts
    assert "Ventiler par" in cohorts and "Granularité" in cohorts
    _no_english(cohorts)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/porpoise/funnels/?steps=signup%0Aactive",
        "/admin/porpoise/charts/?kind=event&name=signup&period=7d&compare=on",
        "/admin/porpoise/lifecycle/?event=signup&period=14d&breakdown=",
        "/admin/porpoise/decisions/",
        "/admin/porpoise/people/?q=signup&period=7d",
        "/admin/porpoise/people/1/",
        "/admin/porpoise/reports/",
        "/admin/",
    ],
)
def test_every_page_in_french(client, staff, data, settings, url):
    settings.LANGUAGE_CODE = "fr"
    page = _text(client.get(url))
    assert "Analyses Porpoise" in page
    _no_english(page)


def test_form_errors_in_french(client, staff, data, settings):
    """A form's errors, the app's and Django's, are all French: no mixed list."""
    settings.LANGUAGE_CODE = "fr"
    page = _text(
        client.get(
            "/admin/porpoise/cohorts/",
            {"select1": "signupp", "select2": "", "cohorts": "100", "offsets": "100"},
        )
    )
    assert "événement inconnu 'signupp' ; vouliez-vous dire signup ?" in page
    assert "Ce champ est obligatoire." in page  # Django's
    assert "font un tableau trop grand" in page
    _no_english(page)
    bad_period = _text(
        client.get("/admin/porpoise/lifecycle/", {"event": "signup", "period": "xx"})
    )
    assert "période inconnue 'xx' ; utilisez today, yesterday" in bad_period
    _no_english(bad_period)


def test_the_pages_follow_accept_language(client, staff, data, settings):
    """With LocaleMiddleware, the browser's language: German here."""
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(
        middleware.index("django.contrib.sessions.middleware.SessionMiddleware") + 1,
        "django.middleware.locale.LocaleMiddleware",
    )
    settings.MIDDLEWARE = middleware
    page = _text(client.get("/admin/porpoise/cohorts/", HTTP_ACCEPT_LANGUAGE="de"))
    assert "Tabelle anzeigen" in page and "Wochenkohorten, in jeder Periode zurückgekehrt" in page
    assert "Zeitzone: UTC" in page
    _no_english(page, "de")
    funnels = _text(
        client.get("/admin/porpoise/funnels/", {"steps": "signup"}, HTTP_ACCEPT_LANGUAGE="de")
    )
    assert "geben Sie 2 bis 10 Schritte an, einen pro Zeile" in funnels
    english = _text(client.get("/admin/porpoise/cohorts/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "Show the table" in english


def test_the_scripts_catalogue_serves_the_apps_strings(client, staff, settings):
    settings.LANGUAGE_CODE = "fr"
    page = client.get("/admin/porpoise/overview/").content.decode()
    assert 'src="/admin/porpoise/jsi18n/"' in page
    script = client.get("/admin/porpoise/jsi18n/").content.decode()
    assert "mis \\u00e0 jour \\u00e0 %(time)s" in script or "mis à jour à %(time)s" in script
    assert "django.interpolate" in script and "django.ngettext" in script
    settings.LANGUAGE_CODE = "de"
    assert "aktualisiert um %(time)s" in client.get("/admin/porpoise/jsi18n/").content.decode()


# -- the API ----------------------------------------------------------------------


@pytest.fixture
def api(staff):
    client = APIClient()
    client.force_authenticate(staff)
    return client


def test_the_apis_messages_in_french(api, data, settings):
    """A bad granularity: DRF's message and the app's, both French."""
    settings.LANGUAGE_CODE = "fr"
    unknown = api.get("/api/porpoise/events/signup/series/", {"granularity": "fortnight"})
    assert unknown.status_code == 400
    assert "pas un choix valide" in unknown.json()["granularity"][0]  # DRF's
    untracked = api.get("/api/porpoise/events/signup/series/", {"period": "24h"})
    assert untracked.status_code == 400
    assert untracked.json()["period"] == [
        "hour n\u2019est pas suivi pour les événements ; suivis : day, week, month "
        "(ajoutez-le à granularities pour le suivre)"
    ]
    steps = api.get("/api/porpoise/funnels/", {"steps": "signup"})
    assert steps.json()["steps"] == ["indiquez 2 à 10 étapes séparées par des virgules"]
    query = api.get("/api/porpoise/expressions/", {"q": "signup &"})
    assert "la requête se termine trop tôt" in str(query.json())


# -- the scripts, in a real browser --------------------------------------------------


@pytest.fixture
def french_boss(porpoise, settings):
    """A French site with a week of plays, and a superuser's session (made
    before the browser starts: the ORM refuses Playwright's event loop)."""
    from django.test import Client

    settings.LANGUAGE_CODE = "fr"
    pp = porpoise(GRANULARITIES=["day", "week", "month"])
    pp.count_many([("plays", "song", 3, pp.now() - dt.timedelta(days=d)) for d in range(7)])
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", password="pw-x"))
    return client.cookies["sessionid"].value


@browser_test
def test_the_chart_pages_scripts_speak_french(live_server, french_boss, browser_page):
    """The chart's accessible name and the note on a period not over yet come
    from the scripts' catalogue: French on a French site."""
    session = french_boss
    page = browser_page
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    page.goto(
        f"{live_server.url}/admin/porpoise/charts/?kind=counter&name=plays&period=7d&compare=on"
    )
    page.wait_for_function("window.porpoiseChart !== undefined")
    label = page.get_attribute("#porpoise-chart", "aria-label")
    assert label.startswith("Graphique de 2 séries"), label
    last = page.evaluate("window.porpoiseChart.data.labels.length - 1")
    footer = page.evaluate(
        "i => window.porpoiseChart.options.plugins.tooltip.callbacks.footer([{dataIndex: i}])",
        last,
    )
    assert footer == "Période pas encore terminée : pas comparable aux périodes entières"
    button = page.locator("#porpoise-chart-form input[type=submit]")
    assert button.get_attribute("value") == "Dessiner"
    assert page.evaluate("window.porpoiseChart.data.labels").pop().endswith("(en cours)")
